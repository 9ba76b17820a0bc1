"""The one bound on step sizes, checked before any work by every command that uses them.

Step t has the size ``eta_t = etabar_t N^alpha_t`` (docs/model.md).  The theory forms the
products ``eta_2 eta_1^k`` (k <= 3 for the printed terms), their squares and the spike
strengths theta, which the BBP formulas square again; a simulation multiplies the weights
by them.  With every ``eta_t`` at most :data:`MAX_STEP` = 1e15 at the width used,
``(eta_2 eta_1^3)^2`` stays below 1e120, far inside float64 (1.8e308) whatever the moments,
and ``eta_2 eta_1`` below 1e30, inside float32 (3.4e38).  Beyond it ``etabar1 = 1e300`` gave an
OverflowError in the theory and NaN after the first step of a simulation; now ``twostep
theory``, ``simulate``, ``sweep``, ``verify`` and ``fuzz`` refuse it in one line before any
work (:func:`check_step_sizes`).  Without a width (the asymptotic prediction) the bound
applies to ``etabar_t`` itself (N = 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import ModelConfig

__all__ = ["MAX_STEP", "check_step_size", "check_step_sizes"]

#: Largest step size ``eta_t = etabar_t N^alpha_t`` at the width used (module docstring).
MAX_STEP = 1e15


def check_step_size(t: int, etabar: float, alpha: float, N: int | None = None) -> float:
    """``eta_t = etabar N^alpha`` at width N (N None: ``etabar``), refused with one line
    naming the step, its parts and the bound when above :data:`MAX_STEP`."""
    eta = etabar if N is None else etabar * float(N) ** alpha  # as Step.eta computes it
    if not eta <= MAX_STEP:
        at = "" if N is None else (f": the step size eta_{t} = etabar{t} N^alpha{t} is "
                                   f"{eta:.3g} at N = {N}")
        raise ConfigError(f"etabar{t} = {etabar:g} is too large{at}; step sizes must be at "
                          f"most {MAX_STEP:g} (beyond it the products eta_2 eta_1^k and the "
                          f"spike strengths leave the floating-point range; docs/model.md)")
    return eta


def check_step_sizes(config: ModelConfig, N: int | None = None) -> None:
    """Both steps of ``config`` at width N (:func:`check_step_size`)."""
    check_step_size(1, config.etabar1, config.alpha1, N)
    check_step_size(2, config.etabar2, config.alpha2, N)
