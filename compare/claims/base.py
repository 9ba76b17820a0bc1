"""The :class:`Claim` base class, its fuzzing :class:`Domain`, and the helpers claims share to
read typed measurements (:func:`_per_N`, which also records the step-two fields a user's
statistic reads, :class:`_Reads`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from twostep.simulate.measurement import Measurement
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.observables import ExactTerm, Projection

from ..table import Table
from .guard import STEP_TWO_FIELDS, STEP_TWO_FROM, STEP_TWO_SPECTRA
from .results import Finding, Results


@dataclass(frozen=True)
class Domain:
    """Where ``twostep fuzz`` draws a claim's configurations around a base config
    (compare/fuzz.py, docs/howto-fuzz.md).

    ``alphas``: draw ``(alpha1, alpha2)`` on the fuzz grid, away from the critical lines (the
    ``--margin``); otherwise the base's (or ``fixed``'s) step-size exponents are kept.
    ``etabar1``: ``(low, high)`` draws etabar1 on the grid of step 0.1 from low to high (None:
    the base's).  ``psi_d``: draws psi_d among these values (None: the base's); the widths must
    hold the spectra at every one of them.  ``fixed``: fields set on every drawn config.
    ``core``: why the core view (compare/core.py, rescaling one base sweep) cannot evaluate the
    claim, shown when it is asked to; empty when nothing in the domain stands against it.
    """

    alphas: bool = True
    etabar1: tuple[float, float] | None = None
    psi_d: tuple[float, ...] | None = None
    fixed: Mapping[str, Any] = field(default_factory=dict)
    core: str = ""

    def __post_init__(self) -> None:
        allowed = {f.name for f in fields(ModelConfig)}
        unknown = sorted(set(self.fixed) - allowed)
        if unknown:
            raise ConfigError(f"Domain.fixed names unknown config field(s) {unknown}; allowed: "
                              f"{', '.join(sorted(allowed))}")
        if self.etabar1 is not None:
            lo, hi = self.etabar1
            if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
                raise ConfigError(f"Domain.etabar1 must be (low, high) with 0 < low <= high, "
                                  f"got {self.etabar1!r}")
        if self.psi_d is not None and (not self.psi_d or not all(
                math.isfinite(p) and p > 0 for p in self.psi_d)):
            raise ConfigError(f"Domain.psi_d must be a non-empty tuple of numbers > 0, got "
                              f"{self.psi_d!r}")

    def psi_values(self, base: ModelConfig) -> tuple[float, ...]:
        """Every psi_d a drawn config can have."""
        if self.psi_d is not None:
            return tuple(self.psi_d)
        return (float(self.fixed.get("psi_d", base.psi_d)),)


@dataclass
class Claim:
    """Base class: what to simulate and how to turn measurements into findings.

    A claim names the configurations it reads (:meth:`configs`), the run options it needs
    (:meth:`run_options`) and the top-k spectra its findings read (:attr:`spectra`: ``"all"``,
    or a tuple of ``W1``, ``W2``, ``update``; a cell computes only the spectra of the claims
    that read it), turns measurements into findings (:meth:`findings`), and says where
    ``twostep fuzz`` may draw its configurations (:meth:`domain`).
    """

    #: The spectra the findings read (``twostep.simulate.options.RunOptions.spectra``).
    spectra: ClassVar[str | tuple[str, ...]] = "all"

    name: str
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def configs(self, config: ModelConfig) -> list[ModelConfig]:
        """The configurations whose simulations this claim reads."""
        return [config]

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        """Options of ``simulate.run`` this claim needs for ``config``."""
        return dict(self.options)

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        raise NotImplementedError

    def domain(self) -> Domain:
        """Where ``twostep fuzz`` draws this claim's configurations: by default
        ``(alpha1, alpha2)`` away from the critical lines, every other field the base's."""
        return Domain()


class _SpectraReads(dict):
    """A measurement's ``spectra`` dict that records reads of the step-two spectra
    (:data:`STEP_TWO_SPECTRA`) as ``spectra.<name>``; iterating it reads every spectrum."""

    def __init__(self, data: Mapping[str, Any], log: set[str]) -> None:
        super().__init__(data)
        self._log = log

    def _note(self, key: Any) -> None:
        if key in STEP_TWO_SPECTRA:
            self._log.add(f"spectra.{key}")

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        self._note(key)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        self._note(key)
        return super().get(key, default)

    def _everything(self) -> None:  # iteration reads every spectrum: assume the worst
        for key in list(dict.keys(self)):
            self._note(key)

    def __iter__(self):  # type: ignore[override]
        self._everything()
        return super().__iter__()

    def items(self):  # type: ignore[override]
        self._everything()
        return super().items()

    def values(self):  # type: ignore[override]
        self._everything()
        return super().values()


class _StepReads(tuple):
    """A measurement's ``dynamics`` (one dict per step) that records reads of the entries of
    step two on (``t >= STEP_TWO_FROM``) as ``dynamics.<t>``; iterating it reads every entry."""

    def __new__(cls, data: Any, log: set[str]) -> _StepReads:
        out = super().__new__(cls, data)
        out._log = log
        return out

    def _note(self, entries: Any) -> None:
        for entry in entries:
            t = entry.get("t") if isinstance(entry, Mapping) else None
            if not isinstance(t, int) or t >= STEP_TWO_FROM:  # no step number: assume the worst
                self._log.add(f"dynamics.{t}")

    def __getitem__(self, index: Any) -> Any:
        value = super().__getitem__(index)
        self._note(value if isinstance(index, slice) else (value,))
        return value

    def __iter__(self):  # type: ignore[override]
        self._note(tuple(super().__iter__()))
        return super().__iter__()


#: The methods of an Observables that read one field: ``m.term(k)`` reads ``m.terms``.
_BY_K = {"term": "terms", "amplitude": "amplitudes"}


class _Reads:
    """A :class:`~twostep.simulate.Measurement` that records which step-two fields
    (:data:`STEP_TWO_FIELDS`, the spectra of :data:`STEP_TWO_SPECTRA`, the entries of
    ``dynamics`` from :data:`STEP_TWO_FROM` on) a statistic reads: the regime guard applies to
    it without the user having to ask.  Every attribute passes through to the measurement;
    ``m.spectra`` is a dict that records reads of ``W2`` and ``update``, ``m.dynamics`` a tuple
    that records reads of step two's entries."""

    __slots__ = ("_measurement", "_log")

    def __init__(self, measurement: Measurement, log: set[str]) -> None:
        object.__setattr__(self, "_measurement", measurement)
        object.__setattr__(self, "_log", log)

    def __getattr__(self, name: str) -> Any:
        m = object.__getattribute__(self, "_measurement")
        log = object.__getattribute__(self, "_log")
        value = getattr(m, name)  # a misspelt name raises AttributeError here
        if name in STEP_TWO_FIELDS:
            log.add(name)
        elif _BY_K.get(name) in STEP_TWO_FIELDS:  # m.term(k), m.amplitude(k): the field's read
            log.add(_BY_K[name])
        elif name == "spectra" and isinstance(value, dict):
            return _SpectraReads(value, log)
        elif name == "dynamics" and isinstance(value, tuple):
            return _StepReads(value, log)
        elif name in ("to_dict", "arrays"):  # the whole measurement: assume the worst
            log.update(STEP_TWO_FIELDS)
            log.update(f"spectra.{k}" for k in m.spectra if k in STEP_TWO_SPECTRA)
            _StepReads(m.dynamics, log)._note(m.dynamics)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a measurement is read-only (setting {name!r})")

    def __getitem__(self, key: Any) -> Any:
        raise TypeError(f"a measurement is read by attribute: m.{key}, not m[{key!r}] "
                        "(docs/howto-own-claim.md)")

    def __repr__(self) -> str:
        return repr(object.__getattribute__(self, "_measurement"))


def _per_N(results: Results, config: ModelConfig, get: Callable[[Measurement], float],
           claim: str = "", reads: set[str] | None = None, *,
           user: bool = False) -> dict[int, list[float]]:
    """``get(measurement)`` per seed at each N.  A :class:`ConfigError` (a measurement that
    lacks what the claim reads) or a value that is not finite stops with one line naming the
    claim, N and seed; with ``reads`` the step-two fields it reads are recorded there.

    ``user``: ``get`` is a user's function (the ``statistic`` or ``floor`` of a user claim), so
    any error it raises is the user's to see, in that one line.  Otherwise ``get`` is the
    package's own code and any other exception is a bug: it propagates with its traceback."""
    out = {}
    for N in results.Ns(config):
        values = []
        for seed, m in zip(results.seeds(config, N), results.get(config, N)):
            source = _Reads(m, reads) if reads is not None else m
            try:
                value = float(get(source))
            except ConfigError as err:
                raise ConfigError(f"claim {claim!r} at N={N}, seed={seed}: {err}") from None
            except Exception as err:
                if not user:
                    raise  # the package's own statistic: a bug, shown as one
                raise ConfigError(f"claim {claim!r}: the statistic failed at N={N}, "
                                  f"seed={seed}: {type(err).__name__}: {err}") from None
            if not math.isfinite(value):
                raise ConfigError(f"claim {claim!r}: the statistic is {value} at N={N}, "
                                  f"seed={seed}; it must be a finite number")
            values.append(value)
        out[N] = values
    if not out:
        raise ConfigError(f"no measurements for config {config.to_json()}")
    return out


def _amp(m: Measurement, k: int) -> Projection:
    """Whole-update amplitude k of a measurement (``max_power`` run option)."""
    for a in m.amplitudes:
        if a.k == k:
            return a
    raise ConfigError(f"measurement has no amplitude for term k={k}; rerun with max_power > {k}")


def _term(m: Measurement, k: int) -> ExactTerm:
    """Exact term k of a measurement (``terms`` run option)."""
    terms = m.terms
    if not terms:
        raise ConfigError("measurement has no exact terms; rerun with terms >= 1")
    for t in terms:
        if t.k == k:
            return t
    raise ConfigError(f"measurement has no exact term k={k}; rerun with terms >= {k}")


def _available_terms(results: Results, config: ModelConfig) -> int:
    """Exact terms present in every measurement of ``config`` (0 when some lack them)."""
    counts = [len(m.terms or ()) for N in results.Ns(config)
              for m in results.get(config, N)]
    return min(counts) if counts else 0


def _blocked(claim: str, subject: str, config: ModelConfig, predicted: Any,
             reason: str) -> Finding:
    """A finding that can only be inconclusive (``reason``): no data can decide it."""
    return Finding(claim, subject, config, Table(["N"], title=f"{claim}: {subject}"), predicted,
                   math.nan, (math.nan, math.nan), {},
                   lambda adj: ("inconclusive", reason, math.nan))


def _required(claim: Claim, *names: str) -> None:
    missing = [n for n in names if not callable(getattr(claim, n))]
    if missing:
        raise ConfigError(f"{type(claim).__name__} {claim.name!r} needs "
                          f"{' and '.join(f'{n}=' for n in missing)} (a callable); see "
                          "docs/howto-own-claim.md")


def _both_modes(config: ModelConfig) -> list[ModelConfig]:
    """``config`` with a reused batch, then with independent batches (the claims that compare
    the two batch modes: ``reuse-gap``, ``reuse-learning``)."""
    return [config.replace(batch="reuse"), config.replace(batch="independent")]


def _check_mode_claim(claimed: Any, meaning: str) -> None:
    """Refuse a ``claimed`` that is not ``{"reuse": bool, "independent": bool}`` (None passes);
    ``meaning`` says in the error what each bool states."""
    if claimed is not None and (
            not isinstance(claimed, Mapping)
            or set(claimed) != {"reuse", "independent"}
            or not all(isinstance(v, bool) for v in claimed.values())):
        raise ConfigError("claimed must be {'reuse': bool, 'independent': bool} "
                          f"({meaning}), got {claimed!r}")
