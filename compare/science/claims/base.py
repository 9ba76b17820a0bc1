"""The :class:`Claim` base class, its fuzzing :class:`Domain`, and the helpers claims share to
read typed measurements (:func:`_per_N`, which also records the step-two quantities a user's
statistic reads, :func:`.guard.step_two_reads`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from twostep.compare.output.table import Table
from twostep.simulate.measurement import Measurement
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.observables import ExactTerm, Projection

from .codes import Reason, Status
from .guard import step_two_reads
from .results import Finding, Results


@dataclass(frozen=True)
class Domain:
    """Where ``twostep fuzz`` draws a claim's configurations around a base config
    (compare/plans/fuzz.py, docs/howto-fuzz.md).

    ``alphas``: draw ``(alpha1, alpha2)`` on the fuzz grid, away from the critical lines (the
    ``--margin``); otherwise the base's (or ``fixed``'s) step-size exponents are kept.
    ``etabar1``: ``(low, high)`` draws etabar1 on the grid of step 0.1 from low to high (None:
    the base's).  ``psi_d``: draws psi_d among these values (None: the base's); the widths must
    hold the spectra at every one of them.  ``fixed``: fields set on every drawn config.
    ``core``: why the core view (compare/plans/core.py, rescaling one base sweep) cannot evaluate
    the claim, shown when it is asked to; empty when nothing in the domain stands against it.
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


def _per_N(results: Results, config: ModelConfig, get: Callable[[Measurement], float],
           claim: str = "", reads: set[str] | None = None, *,
           user: bool = False) -> dict[int, list[float]]:
    """``get(measurement)`` per seed at each N.  A :class:`ConfigError` (a measurement that
    lacks what the claim reads) or a value that is not finite stops with one line naming the
    claim, N and seed; with ``reads`` the step-two quantities it reads are recorded there
    (:func:`.guard.step_two_reads`: the statistic evaluated again with step two hidden, at
    each measurement until one shows it reads step two).

    ``user``: ``get`` is a user's function (the ``statistic`` or ``floor`` of a user claim), so
    any error it raises is the user's to see, in that one line.  Otherwise ``get`` is the
    package's own code and any other exception is a bug: it propagates with its traceback."""
    out = {}
    for N in results.Ns(config):
        values = []
        for seed, m in zip(results.seeds(config, N), results.get(config, N)):
            try:
                value = float(get(m))
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
            if reads is not None and not reads:
                reads.update(step_two_reads(get, m, value))
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
             reason: Reason | str) -> Finding:
    """A finding no data can decide, for ``reason`` (a :class:`~.codes.Reason`; a plain string
    is free text): ``blocked`` when the reason is the regime guard's (its code in
    :data:`~.codes.BLOCKED_CODES`: the theory does not apply), else ``inconclusive``."""
    reason = Reason.of(reason)
    status = Status.undecided(reason.code)
    return Finding(claim, subject, config, Table(["N"], title=f"{claim}: {subject}"), predicted,
                   math.nan, (math.nan, math.nan), {},
                   lambda adj: (status, reason, math.nan))


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
