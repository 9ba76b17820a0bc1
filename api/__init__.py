"""twostep: check claimed theorems about two-step feature learning against finite-N simulation.

The names a researcher needs, in one place (docs/reference.md, The Python API)::

    import twostep as ts
    cfg = ts.ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45)
    ts.predict(cfg).at(800)                 # the theory's observables at N = 800
    ts.run(cfg, N=800, seed=0, terms=3)     # one simulation, the same observables measured
    ts.check("left-vectors", cfg, Ns=[100, 200, 400], seeds=3)   # one claim: its verdicts
    ts.verify()                             # the built-in plan (``twostep verify``)

The names are imported on first use (PEP 562), so ``import twostep`` loads nothing heavy and
the command line starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

#: name -> module it is defined in
_NAMES = {
    "ModelConfig": "twostep.theory.config",
    "ConfigError": "twostep.theory.errors",
    "NonFiniteError": "twostep.theory.errors",
    "predict": "twostep.theory.predict",
    "Prediction": "twostep.theory.prediction",
    "Observables": "twostep.theory.observables",
    "run": "twostep.simulate.runner",
    "Measurement": "twostep.simulate.measurement",
    "check": "twostep.compare.plans.verify",
    "verify": "twostep.compare.plans.profiles",
    "Store": "twostep.compare.execution.store",
}
#: the claim classes (the built-in claims' and the two a user's claim is made of)
_CLAIMS = ("Claim", "ExponentClaim", "LimitClaim", "BBP", "GrowthExponent", "LeftVectors",
           "OneStepSpikes", "OutlierCount", "OutlierLocations", "ReuseGap", "ReuseLearning",
           "TermAmplitudeClaim", "TermExponent", "Verdict", "Finding", "claim_names",
           "get_claim", "register")
_NAMES.update({name: "twostep.compare.science.claims" for name in _CLAIMS})

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return _version()
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'twostep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("twostep")
    except PackageNotFoundError:  # pragma: no cover - source tree without install
        return "0+unknown"

