"""The user-facing claims: :class:`ExponentClaim` and :class:`LimitClaim`
(docs/howto-own-claim.md).  Both require ``statistic`` and ``predicted``; a statistic that reads
a step-two quantity gets the regime guard by itself (docs/claims.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twostep.simulate.measurement import Measurement
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict

from .base import Claim, _per_N, _required
from .coherent import cell_seconds, coherent_finding
from .exponent import exponent_finding
from .guard import guard_terms, measured_regime
from .limit import limit_finding
from .results import Finding, Results


@dataclass
class _UserClaim(Claim):
    """What the user-facing claims share: a required ``predicted(config)`` and
    ``statistic(measurement)`` (the measurement a :class:`~twostep.simulate.Measurement`, read by
    attribute: ``m.amplitude(1).amplitude``), and the regime guard's run option (``terms``)
    while the subclass's ``guard`` is on."""

    predicted: Callable[[ModelConfig], float] | None = None
    statistic: Callable[[Measurement], float] | None = None

    def __post_init__(self) -> None:
        _required(self, "statistic", "predicted")
        tol = getattr(self, "tolerance", None)
        if tol is not None and (isinstance(tol, bool) or not isinstance(tol, (int, float))
                                or not math.isfinite(tol) or tol <= 0):
            raise ConfigError(f"{type(self).__name__} {self.name!r}: tolerance must be a finite "
                              f"number > 0, got {tol!r}")

    def _predicted(self, config: ModelConfig, N: int | None = None) -> float:
        """``predicted(config)`` (``N`` given: ``predicted(predict(config).at(N))``) as a
        finite float; a prediction that raises or is not finite stops with one line naming the
        claim (the user's function: its error is theirs)."""
        call = "predicted(config)" if N is None else f"predicted(predict(config).at({N}))"
        try:
            value = float(self.predicted(config if N is None else predict(config).at(N)))
        except ConfigError as err:
            raise ConfigError(f"claim {self.name!r}: {call}: {err}") from None
        except Exception as err:  # noqa: BLE001 - a user's function: any error is theirs
            raise ConfigError(f"claim {self.name!r}: {call} failed for "
                              f"{config.to_json()}: {type(err).__name__}: {err}") from None
        if not math.isfinite(value):
            raise ConfigError(f"claim {self.name!r}: {call} is {value} for "
                              f"{config.to_json()}; it must be a finite number")
        return value

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        opts = dict(self.options)
        if getattr(self, "guard", True):
            opts.setdefault("terms", guard_terms(config))
        return opts


@dataclass
class ExponentClaim(_UserClaim):
    """User-facing: a positive statistic grows like ``N^{predicted(config)}``.

    ``statistic(measurement) -> float`` and ``predicted(config) -> float`` are required;
    optional ``floor(measurement) -> float`` (a null level of the same statistic; when given,
    the floor-corrected signal ``sqrt(s^2 - floor^2)`` is fitted).  A statistic that reads a
    step-two quantity gets the regime guard (docs/claims.md); ``guard=False`` turns it off.
    """

    floor: Callable[[Measurement], float] | None = None
    tolerance: float = 0.1
    guard: bool = True
    #: "log-log" (default): the exponent rule on a positive statistic; "coherent": the
    #: statistic is a per-seed unbiased estimate of a squared strength (it may be negative),
    #: and the exponent of the square root of its mean is fitted with corrections to scaling
    #: (the coherent rule, docs/claims.md; no floor)
    fit: str = "log-log"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.fit not in ("log-log", "coherent"):
            raise ConfigError(f"ExponentClaim fit must be 'log-log' or 'coherent', got "
                              f"{self.fit!r}")
        if self.fit == "coherent" and self.floor is not None:
            raise ConfigError("ExponentClaim(fit='coherent') takes no floor: the statistic is "
                              "already an unbiased estimate of the coherent part")

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        reads: set[str] = set()
        raw = _per_N(results, config, self.statistic, self.name, reads, user=True)
        if self.fit == "coherent":
            regime = measured_regime(results, config) if reads and self.guard else None
            return [coherent_finding(self.name, "exponent (coherent rule)", config,
                                     self._predicted(config), raw=raw, regime=regime,
                                     tolerance=self.tolerance,
                                     seconds=cell_seconds(results, config))]
        flo = (_per_N(results, config, self.floor, self.name, reads, user=True)
               if self.floor else None)
        regime = measured_regime(results, config) if reads and self.guard else None
        return [exponent_finding(self.name, "exponent", config, self._predicted(config),
                                 self.tolerance, raw=raw, floor=flo, regime=regime,
                                 guard_off=bool(reads) and not self.guard)]


@dataclass
class LimitClaim(_UserClaim):
    """User-facing: a statistic converges to ``predicted(config)`` as N grows.

    ``tolerance`` is absolute, or relative to the prediction when ``relative=True``.  The regime
    guard applies as for :class:`ExponentClaim`.  ``at_N=True``: ``predicted`` gets the
    predicted :class:`~twostep.theory.observables.Observables` at each width N,
    ``predict(config).at(N)`` (the fields a measurement has: one function can be both the
    statistic and the prediction), and the band is per N, as the built-in finite-N claims
    compare (docs/howto-own-claim.md).
    """

    tolerance: float = 0.02
    relative: bool = True
    guard: bool = True
    at_N: bool = False

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        pred: float | dict[int, float] = 0.0 if self.at_N else self._predicted(config)
        reads: set[str] = set()
        vals = _per_N(results, config, self.statistic, self.name, reads, user=True)
        if self.at_N:  # the prediction at each width: predict(config).at(N)
            pred = {N: self._predicted(config, N) for N in vals}
        tol = ({N: self.tolerance * abs(p) if self.relative else self.tolerance
                for N, p in pred.items()} if isinstance(pred, dict) else
               self.tolerance * abs(pred) if self.relative else self.tolerance)
        regime = measured_regime(results, config) if reads and self.guard else None
        return [limit_finding(self.name, "limit", config, vals, pred, tol, regime=regime,
                              guard_off=bool(reads) and not self.guard)]
