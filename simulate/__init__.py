"""twostep.simulate: exact GD steps of the two-layer network and their spectra.

``run(config, N, seed)`` simulates the steps of docs/model.md once
(streamed over sample blocks, reproducible from the seed) and returns a
:class:`Measurement` whose fields mirror the theory's ``Prediction``.
"""

from .gd import Step, default_steps, parse_steps
from .measurement import Measurement
from .runner import run

__all__ = ["Measurement", "Step", "default_steps", "parse_steps", "run"]
