"""The regime guard: a statement about step-two terms is decided only at the N where the
measured series of exact terms converges (docs/claims.md).

- :class:`Regime` (from the measurements: :func:`measured_regime`) and :class:`TermShare`
  (:func:`term_share`: term k must also carry the whole update's projection on ``q_{k+1}``);
- :func:`guard_clause`, :func:`_usable`: the widths a guarded verdict may use and the clause on
  the others; :func:`guard_terms`: the ``terms`` run option a guarded claim needs;
- :func:`regime_to_dict`, :func:`regime_from_dict`: a regime as a finding's JSON-able inputs;
- which reads of a measurement are statements about step two (:func:`step_two_reads`: the
  statistic evaluated on the measurement with step two hidden, :func:`step_one_view`, as the
  fields and entries declare their step).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twostep.simulate.measurement import Measurement, field_defaults, fields_of
from twostep.simulate.terms import SERIES_TOLERANCE, TERMS_LIMIT
from twostep.theory.config import ModelConfig
from twostep.theory.fields import step_of
from twostep.theory.observables import Series
from twostep.theory.spectra import spectrum_step

from .codes import Reason, Status
from .results import Results

#: Exact terms computed for the regime guard when a claim needs no more (``terms`` run option).
GUARD_TERMS = 3

#: Top-level measurement fields that hold step-two quantities (a statistic that reads one of
#: them is a statement about the step-two update, and the regime guard applies to it): the
#: fields of kind "step two" and "exact terms" of ``simulate.measurement.FIELD_KINDS``.  The
#: fields of kind "per step" are read entry by entry, each entry by its declared step
#: (:data:`STEP_TWO_FROM`).
STEP_TWO_FIELDS = frozenset(fields_of("step two", "exact terms"))
#: An entry of a per-step field (a spectrum, ``spectrum(name).step``; a step's statistics,
#: ``dynamics[i].step``) whose declared step is at least this is step two's (no step: assumed
#: step two's).
STEP_TWO_FROM = 2
#: The spectra of step two in a two-step run (from their names' steps,
#: ``theory.spectra.spectrum_step``); the guard reads each spectrum's own ``step``.
STEP_TWO_SPECTRA = frozenset(name for name in ("W1", "W2", "update")
                             if spectrum_step(name, 2) >= STEP_TWO_FROM)

#: What the guard says of a width without a series residual, unless its measurements say why
#: (``series.residual_missing``, :class:`Regime`).
NO_SERIES = "run with terms >= 1"


@dataclass(frozen=True)
class Regime:
    """Where the series of exact step-two terms converges (docs/claims.md).

    ``residual[N]``: the largest relative residual ``||U - sum_{k<=K} T_k|| / ||U||`` over the
    seeds at N (None where a seed has no series diagnostics); N supports a term-level verdict
    iff it is at most ``tolerance``.  ``blocked`` (a :class:`~.codes.Reason`, None when not)
    says why no N can: the terms are undefined for the activation.  ``missing[N]``: why N has
    no residual, where a measurement says so (its ``series.residual_missing``: the core
    view's rescaled measurements); the other N without one are told :data:`NO_SERIES`.
    """

    residual: Mapping[int, float | None]
    tolerance: float
    blocked: Reason | None = None
    missing: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a plain string is free text, an empty one (the sentinel before 0.4) means not blocked
        if self.blocked is not None and not isinstance(self.blocked, Reason):
            object.__setattr__(self, "blocked",
                               Reason.text(self.blocked) if self.blocked else None)

    def ok(self, N: int) -> bool:
        r = self.residual.get(N)
        return self.blocked is None and r is not None and r <= self.tolerance

    def describe(self, Ns: Sequence[int]) -> str:
        """One clause on the N of ``Ns`` that do not support a verdict."""
        if self.blocked is not None:
            return self.blocked
        missing = [N for N in Ns if self.residual.get(N) is None]
        diverging = [N for N in Ns if N not in missing and not self.ok(N)]
        parts = []
        if diverging:
            worst = max(diverging, key=lambda N: (self.residual[N], N))
            where = ", ".join(map(str, diverging))
            parts.append(f"series residual {self.residual[worst]:.3g} at N = {worst} (> "
                         f"{self.tolerance:g} at N = {where}): the expansion that defines the "
                         "terms diverges there")
        by_note: dict[str, list[int]] = {}
        for N in missing:
            by_note.setdefault(self.missing.get(N, NO_SERIES), []).append(N)
        for note, where in by_note.items():
            parts.append(f"no series diagnostics at N = {', '.join(map(str, where))} ({note})")
        return "; ".join(parts)


#: The projection of the whole update on ``q_{k+1}`` is term k's when term k's own projection
#: is at least this share of it (median over seeds); the rest is other terms' leakage.
MIN_TERM_SHARE = 0.5


@dataclass(frozen=True)
class TermShare(Regime):
    """A :class:`Regime` that also needs term k to carry the whole update's projection on
    ``q_{k+1}``: ``share[N]`` is the median over seeds of ``||T_k^T q_{k+1}|| /
    ||(W_2 - W_1)^T q_{k+1}||`` (None where a seed lacks term k)."""

    k: int = 0
    share: Mapping[int, float | None] = field(default_factory=dict)

    def ok(self, N: int) -> bool:
        s = self.share.get(N)
        return Regime.ok(self, N) and s is not None and s >= MIN_TERM_SHARE

    def describe(self, Ns: Sequence[int]) -> str:
        parts = [Regime.describe(self, [N for N in Ns if not Regime.ok(self, N)])]
        low = [N for N in Ns if Regime.ok(self, N) and not self.ok(N)]
        if low:
            shares = ", ".join("-" if self.share.get(N) is None else f"{self.share[N]:.2f}"
                               for N in low)
            parts.append(f"term {self.k} carries only {shares} of the projection on "
                         f"q_{self.k + 1} at N = {', '.join(map(str, low))} (< {MIN_TERM_SHARE:g};"
                         " the rest leaks from the other terms)")
        return "; ".join(p for p in parts if p)


def term_share(results: Results, config: ModelConfig, k: int, regime: Regime) -> TermShare:
    """:class:`TermShare` of term k from the exact terms and the whole-update amplitudes."""
    share: dict[int, float | None] = {}
    for N in results.Ns(config):
        values = []
        for m in results.get(config, N):
            exact = next((t for t in (m.terms or ()) if t.k == k), None)
            whole = next((a for a in m.amplitudes or () if a.k == k), None)
            if exact is None or whole is None or not whole.amplitude:
                values = None
                break
            values.append(exact.amplitude / whole.amplitude)
        share[N] = None if values is None else float(np.median(values))
    return TermShare(regime.residual, regime.tolerance, regime.blocked, regime.missing, k=k,
                     share=share)


def measured_regime(results: Results, config: ModelConfig) -> Regime:
    """The :class:`Regime` of ``config``'s measurements (their ``series`` diagnostics)."""
    from twostep.theory.functions import parse_function

    residual: dict[int, float | None] = {}
    missing: dict[int, str] = {}
    for N in results.Ns(config):
        series = [m.series or Series() for m in results.get(config, N)]
        values = [s.residual for s in series]
        residual[N] = None if any(v is None for v in values) else float(max(values))
        notes = [s.residual_missing for s in series
                 if s.residual is None and s.residual_missing]
        if residual[N] is None and notes:
            missing[N] = str(notes[0])
    blocked = None
    if not parse_function(config.activation).smooth:
        blocked = Reason("guard-nonsmooth", activation=config.activation)
    return Regime(residual, SERIES_TOLERANCE, blocked, missing)


def _outside(regime: Regime, Ns: Sequence[int], code: str) -> Reason:
    """The guard's words on the widths ``Ns`` it leaves out (``describe``) as the reason
    ``code``, with the widths by cause: ``diverging`` (residual above the tolerance),
    ``no_series`` (no residual; ``explained``: those whose measurements say why) and
    ``low_share`` (a :class:`TermShare` below its share)."""
    blocked = regime.blocked is not None   # then describe() gives the regime's own reason
    no_series = [N for N in Ns if not blocked and regime.residual.get(N) is None]
    diverging = [N for N in Ns if not blocked and N not in no_series
                 and not Regime.ok(regime, N)]
    low_share = [N for N in Ns if Regime.ok(regime, N) and not regime.ok(N)]
    return Reason(code, clause=regime.describe(Ns), widths=list(Ns), diverging=diverging,
                  no_series=no_series, low_share=low_share,
                  explained=[N for N in no_series if N in regime.missing])


def guard_clause(regime: Regime | None, Ns: Sequence[int]) -> tuple[Reason | None, Reason | str]:
    """``(blocked, prefix)`` of a guarded verdict: ``blocked`` is the reason when no width of
    ``Ns`` is in the regime (the verdict's status is then ``blocked``: code ``guard-outside``,
    or the regime's own ``blocked``; None otherwise), ``prefix`` the clause on the widths left
    out (code ``guard-prefix``; empty when none)."""
    if regime is None:
        return None, ""
    outside = [N for N in Ns if not regime.ok(N)]
    if Ns and len(outside) == len(Ns):
        return regime.blocked or _outside(regime, Ns, "guard-outside"), ""
    return None, _outside(regime, outside, "guard-prefix") if outside else ""


def guard_status(regime: Regime | None, Ns: Sequence[int]) -> Status:
    """The status of a verdict that no width of ``Ns`` can decide: ``blocked`` when the guard
    alone leaves none (the theory does not apply there: :func:`guard_clause`'s ``blocked``),
    else ``inconclusive``."""
    return Status.BLOCKED if guard_clause(regime, Ns)[0] is not None else Status.INCONCLUSIVE


def guard_terms(config: ModelConfig, need: int = GUARD_TERMS) -> int:
    """The ``terms`` run option a step-two claim needs on ``config`` (at most
    ``simulate.terms.TERMS_LIMIT``): 0 when the activation is not smooth (the terms are
    undefined; the guard then blocks every term-level verdict)."""
    from twostep.theory.functions import parse_function

    return min(need, TERMS_LIMIT) if parse_function(config.activation).smooth else 0


def regime_to_dict(regime: Regime | None) -> dict | None:
    """A :class:`Regime` (or :class:`TermShare`) as JSON-able data (a finding's inputs)."""
    if regime is None:
        return None
    d = {"residual": {str(N): r for N, r in regime.residual.items()},
         "tolerance": regime.tolerance,
         "blocked": None if regime.blocked is None else regime.blocked.message}
    if regime.blocked is not None:
        d["blocked_code"] = regime.blocked.to_dict()
    if regime.missing:
        d["missing"] = {str(N): why for N, why in regime.missing.items()}
    if isinstance(regime, TermShare):
        d.update(k=regime.k, share={str(N): s for N, s in regime.share.items()})
    return d


def regime_from_dict(d: Mapping | None) -> Regime | None:
    """The :class:`Regime` (or :class:`TermShare`) of :func:`regime_to_dict`'s data."""
    if d is None:
        return None
    residual = {int(N): r for N, r in d["residual"].items()}
    missing = {int(N): why for N, why in d.get("missing", {}).items()}
    blocked = (Reason.from_dict(d["blocked_code"]) if d.get("blocked_code")
               else Reason.text(d["blocked"]) if d.get("blocked") else None)
    if "share" in d:
        return TermShare(residual, d["tolerance"], blocked, missing, k=int(d["k"]),
                         share={int(N): s for N, s in d["share"].items()})
    return Regime(residual, d["tolerance"], blocked, missing)


def _usable(Ns: Sequence[int], regime: Regime | None, excluded: Mapping[int, str]
            ) -> tuple[list[int], str]:
    """The N that may decide (converging series, not excluded) and the clause on the others."""
    parts = []
    if regime is not None:
        outside = [N for N in Ns if not regime.ok(N)]
        if outside:
            parts.append(regime.describe(outside))
    out = [N for N in Ns if N not in excluded and (regime is None or regime.ok(N))]
    for N in Ns:
        if N in excluded and (regime is None or regime.ok(N)):
            parts.append(excluded[N])
    return out, "; ".join(parts)



# -- which reads are step two's: the statistic on the measurement with step two hidden --------

def _step_two_parts(m: Measurement) -> dict[str, tuple[str, Any]]:
    """What of ``m`` belongs to step two, by label: the :data:`STEP_TWO_FIELDS` (``"terms"``),
    and each entry of a "per step" field whose declared step is :data:`STEP_TWO_FROM` or later
    (``"spectra.W2"``: a spectrum by its name, ``"dynamics.2"``: a step by its step), as
    ``(field, position of the entry or None)``."""
    parts: dict[str, tuple[str, Any]] = {name: (name, None) for name in sorted(STEP_TWO_FIELDS)}
    for name in fields_of("per step"):
        for i, entry in enumerate(getattr(m, name)):
            step = getattr(entry, "step", None)
            if step is None or step >= STEP_TWO_FROM:
                parts[f"{name}.{getattr(entry, 'name', None) or step}"] = (name, i)
    return parts


def _blank(entry: Any) -> Any:
    """A per-step entry without its own data (the fields declared of its step, ``entry``),
    keeping its labels (its step, the width's theory edge)."""
    return dataclasses.replace(entry, **{f.name: None for f in dataclasses.fields(entry)
                                         if step_of(f) == "entry"})


def step_one_view(m: Measurement, parts: Sequence[tuple[str, Any]] | None = None
                  ) -> Measurement:
    """``m`` with its step-two quantities hidden (all of them, or those of ``parts``,
    :func:`_step_two_parts`' values): a step-two field holds its default (None, ``()``), a
    step-two entry of a per-step field is blanked (:func:`_blank`) where it stands (the
    entries as a tuple, which the measurement converts: its ``spectra`` a ``Spectra``)."""
    parts = _step_two_parts(m).values() if parts is None else parts
    changes: dict[str, Any] = {}
    for name, key in parts:
        if key is None:
            changes.update(field_defaults((name,)))
            continue
        container = changes.get(name, getattr(m, name))
        changes[name] = tuple(_blank(e) if i == key else e for i, e in enumerate(container))
    return dataclasses.replace(m, **changes)


def _same(get: Callable[[Measurement], float], view: Measurement, value: float) -> bool:
    try:
        return float(get(view)) == value
    except Exception:  # noqa: BLE001 - failing without step two is reading it
        return False


def step_two_reads(get: Callable[[Measurement], float], m: Measurement,
                   value: float | None = None) -> set[str]:
    """The step-two quantities of ``m`` the statistic ``get`` reads (labels of
    :func:`_step_two_parts`): ``get`` is evaluated again with step two hidden
    (:func:`step_one_view`); a statistic whose value stays the same does not read step two
    (empty set), else each part whose hiding alone changes the value (or makes it fail) is
    named.  ``value``: ``get(m)``, when already known."""
    value = float(get(m)) if value is None else value
    parts = _step_two_parts(m)
    if _same(get, step_one_view(m, list(parts.values())), value):
        return set()
    return {label for label, part in parts.items()
            if not _same(get, step_one_view(m, [part]), value)} or set(parts)
