"""What a verdict says, as data: its :class:`Status` and its :class:`Reason` (a code with
parameters), and the one table of wordings (:data:`TEMPLATES`) that renders a reason as the
line shown in reports (docs/claims.md).

Code branches on ``Verdict.status`` and ``Verdict.reason.code`` (and ``.params``), never on
the rendered text: the wording lives only in :data:`TEMPLATES`, so changing it changes no
decision (``tests/test_codes.py`` plants a different wording and checks this).

A reason's text is rendered once, when it is made: ``prefix`` + the code's template filled
with the parameters + the reasons of ``then`` (clauses that follow, each a Reason: "would
decide: ...") + ``suffix`` (``prefix`` and ``suffix``: text of other origin, such as the
regime guard's words on the widths it left out, or a claim's note).  A :class:`Reason`
is a ``str`` (its text), so displaying it, writing it into a table and comparing it with a
string of today's text keep working.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any


class Status(str, Enum):
    """A verdict's status.  A ``str`` mixin: ``Status.CONSISTENT == "consistent"``, and it
    is written to JSON and tables as its value."""

    CONSISTENT = "consistent"
    INCONSISTENT = "inconsistent"
    INCONCLUSIVE = "inconclusive"
    #: the theory does not apply, so no data can decide it: the regime guard keeps every width
    #: from deciding (the reason's code is one of :data:`BLOCKED_CODES`)
    BLOCKED = "blocked"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def parse(cls, value: Any) -> Status:
        """``value`` (a Status or its string) as a Status; ValueError names the allowed ones."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"decision status {value!r}; allowed: "
                             f"{', '.join(s.value for s in cls)}") from None

    @classmethod
    def undecided(cls, code: str) -> Status:
        """The status of a finding no data decided, for its reason's ``code``: ``blocked`` for
        the regime guard's codes (:data:`BLOCKED_CODES`: the theory does not apply), else
        ``inconclusive``."""
        return cls.BLOCKED if code in BLOCKED_CODES else cls.INCONCLUSIVE


#: Code of a reason given as free text (a user claim's ``decide`` that returns a string, a
#: verdict stored before reasons had codes).
TEXT = "text"

#: The wording of each code (``str.format`` with the reason's parameters).  Used only by
#: rendering: :class:`Reason`.
TEMPLATES: dict[str, str] = {
    TEXT: "{text}",
    # the regime guard (guard.py)
    "guard-nonsmooth": "the exact step-two terms are undefined for the non-smooth activation "
                       "{activation!r} (their coefficients are derivatives of a kink; "
                       "docs/theory.md)",
    "guard-outside": "{clause}",
    "guard-prefix": "{clause}; ",
    # the core view (compare/plans/core.py)
    "core-refused": "refused by the core view: {why}",
    # shared clauses
    "need-seeds": "; would decide: about {seeds} seeds per N",
    "would-decide": "; would decide: {need}",
    "guard-off": "; regime guard off (asked by the claim)",
    "clause": "; {text}",
    "clauses": "; {items:semicolons}",
    "note": "; {note}",
    "bbp-alpha1-zero": "alpha1 set to 0 for this claim (the config has alpha1 = {alpha1:g})",
    "too-few-widths": "{count} usable width(s) spanning {span:.3g}x (a verdict either way needs "
                      ">= {need_widths} spanning >= {need_range:g}x)",
    # what would decide an exponent (exponent.py)
    "need-convergence": "a smaller etabar1 (the exact terms do not depend on it) or the N where "
                        "the series converges",
    "need-floor": "a larger N than {N} (the signal must clear its floor) or more seeds",
    "need-widths": "more widths: add N = {N} (a verdict needs {need_widths} spanning "
                   "{need_range:g}x)",
    "need-settled": "larger N than {N} (the local slopes have not settled)",
    "need-seeds-fit": "about {seeds} seeds per N (fit half-width {half_width:.2g} vs "
                      "{tolerance:g})",
    "need-more": "more seeds or larger N",
    # the exponent rule (exponent.py)
    "exponent-floor-all": "signal below the null floor at every N",
    "exponent-floor-largest": "signal not above the null floor at the largest N = {N} (above "
                              "at N = {above:list})",
    "exponent-no-signal": "fewer than two N with a measurable signal",
    "exponent-widths": "{widths}; so far fit {fit}, last local slope {last} against "
                       "{predicted:.3g}",
    "exponent-ci-wide": "CI wider than the tolerance: fit {fit} has half-width {half_width:.3g} "
                        "> {tolerance:g}",
    "exponent-consistent": "fitted exponent {fit} and last local slope {last} contain "
                           "{predicted:.3g}; signal {where}",
    "signal-above-floor": "above the null floor at N = {N}",
    "signal-at": "at N = {first}..{last}",
    "exponent-fit-excludes": "fit {fit} excludes {predicted:.3g} but the last local slope "
                             "{last} contains it (local slopes {slopes:list.2f}): "
                             "pre-asymptotic",
    "exponent-last-excludes": "last local slope {last} excludes {predicted:.3g} while the fit "
                              "{fit} contains it (local slopes {slopes:list.2f})",
    "exponent-inconsistent": "fitted exponent {fit} and last local slope {last} exclude "
                             "{predicted:.3g} (BH-adjusted p = {p:.2g}); local slopes "
                             "{slopes:list.2f} not drifting toward it",
    "exponent-drifting": "local slopes {slopes:list.2f} drifting toward {predicted:.3g}: "
                         "pre-asymptotic",
    "exponent-not-significant": "fit {fit} and last local slope {last} exclude {predicted:.3g} "
                                "but not significantly after BH (p = {p:.2g})",
    # the coherent rule (coherent.py)
    "coherent-missing": "{why}",
    "coherent-no-exponent": "no exponent: {note}; would decide: {need}",
    "coherent-widths": "{widths}; so far {fit}",
    "coherent-narrower": "on N >= {N} {estimate:.3g} [{low:.3g}, {high:.3g}]",
    "coherent-so-does": ", and so does the largest widths' fit ({tail})",
    "coherent-wide": "exponent {fit} contains {predicted:.3g} but its half-width "
                     "{half_width:.2g} exceeds {half_tolerance:g} (half the tolerance "
                     "{tolerance:g}); would decide: {need}",
    "coherent-narrower-excludes": "coherent exponent {fit} contains {predicted:.3g} but the "
                                  "largest widths' fit ({tail}) excludes it; would decide: "
                                  "larger N than {N}",
    "coherent-consistent": "coherent exponent {fit} contains {predicted:.3g}",
    "coherent-pre-asymptotic": "coherent exponent {fit} excludes {predicted:.3g} (BH-adjusted p "
                               "= {p:.2g}) but the largest widths' fit ({tail}) contains it: "
                               "pre-asymptotic; would decide: larger N than {N}",
    "coherent-inconsistent": "coherent exponent {fit} excludes {predicted:.3g} (BH-adjusted p = "
                             "{p:.2g})",
    "coherent-not-significant": "coherent exponent {fit} excludes {predicted:.3g}, not "
                                "significantly after BH (p = {p:.2g})",
    # the outlier count (count.py)
    "count-visible": "visible new outliers at N = {N}: {mean}; design: {design}",
    "count-undefined": "{label} count undefined: {why}",
    "count-blocked": "{blocked}; {visible}",
    "count-critical": "{label} count {count}: alpha2/(1/2 - alpha1) = {ratio} is an integer, so "
                      "a term has e_k = 0 and the count is decided by a finite spike, not by "
                      "exponents; {visible}",
    "count-outside": "{label} count {count} not decided: {clause}; {visible}",
    "count-inconsistent": "{label} count {count}: term(s) {wrong} decided against the "
                          "prediction ({decided} decided growing); {summary:semicolons}; {visible}",
    "count-rerun-terms": "rerun with terms >= {k}",
    "count-terms-limit": "the count needs {k} exact terms, twostep computes at most {limit}",
    "count-missing-terms": "the measurements lack exact term(s) {shown}: {fix}",
    "count-open": "{label} count {count} not decided at N <= {N} (decided so far: term(s) "
                  "{grows} grow, {vanish} vanish, {open} open): {summary:semicolons}; {visible}",
    "count-consistent": "{label} count {count}: {summary:semicolons}; series converges at N = "
                        "{used:list}; {visible}",
    # the left vectors (vectors.py)
    "vectors-no-outlier": "no outlier in at least half of the seeds at N = {N}",
    "vectors-rank-power": "rank {rank} -> a^{power}",
    "vectors-absent-power": "outlier(s) aligned with a power the theory predicts absent: "
                            "{ranks:list}",
    "vectors-rank": "rank {rank}: k={k} ({agree}/{seeds} seeds, overlap {overlap})",
    "vectors-consistent": "at N = {N}: {ranks:list}",
    "vectors-unclear": "at N = {N} not every outlier is clearly identified: {ranks:list}",
    # reuse-learning (learning.py)
    "stored-before-beta": "the measurements at N={N} were stored before twostep measured "
                          "beta_component: rerun into a new store",
    "cosine-where": "cosine {shown:list} at N = {widths:list} against d^-1/2 = {bounds:list.3g}",
    "cosine-pooled": "mean cosine / d^-1/2 {z:.3g} +- {se:.2g}",
    "carries-few-widths": "k={k}: fewer than two converging widths",
    "carries-unresolved": "k={k}: carrying undetermined ({note})",
    "carries": "k={k}: carries beta_* ({where})",
    "carries-not": "k={k}: does not carry beta_* ({where}; {below} below 1, p = {p:.2g})",
    "need-seeds-at": "about {seeds} seeds per width at N = {widths:list} (for 'does not carry')",
    "need-seeds-width": "about {seeds} seeds per width",
    "need-larger-N": "larger N than {N}",
    "carries-undetermined": "k={k}: carrying undetermined ({where}",
    "paren-would-decide": "); would decide: {need}",
    "learning-critical": "k={k}: e_k = 0 (critical): an outlier is never decided",
    "learning-predicted": "predicted: {learns:learns}",
    "learning-conflict": "{said}; undecided: term(s) {terms}: the strength and the beta_* "
                         "component have exponents of opposite signs; {summary:semicolons}",
    "learning-learns": "learns: term {k} carries beta_* and grows",
    "learning-lacks": "does not learn: term {k} vanishes or does not carry beta_*",
    "learning-open": "{said}; undecided: term(s) {terms} open; {summary:semicolons}",
    "learning-agrees": "{state}; {said}; {summary:semicolons}",
    "learning-disagrees": "{state}; {said}; {summary:semicolons}",
    # reuse-gap (reuse.py)
    "gap-guard": "{clauses:semicolons}; ",
    "guard-clause": "{clause}",
    "gap-too-few": "{mode}: too few converging widths",
    "gap-trend": "trend N^{fit}",
    "gap-no-trend": "no trend fit",
    "gap-learns": "{mode}: learns (overlaps {means:list.3g}, above the null, {trend})",
    "gap-falls": "{mode}: falls toward the null (overlaps {means:list.3g}, {trend})",
    "gap-undecided": "{mode}: undecided (overlaps {means:list.3g}, {trend}; decided by the "
                     "slope against {midpoint:g} and the null)",
    "gap-predicted": "predicted: reuse {reuse:learns}, independent {independent:learns}",
    "gap-widths": "{widths}; {predicted}",
    "gap-disagrees": "{states:semicolons}; {predicted}",
    "gap-agrees": "{states:semicolons}; {predicted}",
    "gap-open": "{states:semicolons}; {predicted}",
    # one-step-spikes (spikes.py)
    "spikes-base": "median counts {medians} at N = {widths} vs predicted {count} (spike "
                   "{count} grows as N^{grow:.3g}, spike {next} as N^{shrink:.3g})",
    "spikes-critical": "alpha1 is an interval end point ({count} or {next} spikes): the count "
                       "is not decided",
    "spikes-widths": "{base}; {widths}",
    "spikes-near-zero": "{base}: an exponent within {margin} of 0 is not decided by counting "
                        "at feasible N, either way",
    "spikes-consistent": "{base}; both exponents at least {margin} from 0",
    "spikes-inconsistent": "{base}: differs in every seed, on one side, not moving toward it",
    "spikes-unobservable": "{base}: not observable at this N",
    # the sign of a coherent exponent (coherent.py's exponent_sign)
    "sign-gamma": "; gamma_{k} = {gamma:.3g} [{low:.3g}, {high:.3g}]",
    "sign-widths": "{who}: sign undetermined ({widths}",
    "guard-clause-after": "; {clause}",
    "sign-would-decide": "; would decide: {need})",
    "sign-disagrees": "{who}: sign undetermined, {label} {fit} (p = {p:.2g}) but the largest "
                      "widths' fit (N >= {N_min}) is {narrower:.3g}, of the other sign{gamma}; "
                      "would decide: larger N than {N}",
    "sign-grows": "{who}: grows, {label} {fit} (p = {p:.2g}){gamma}",
    "sign-vanishes": "{who}: vanishes, {label} {fit} (p = {p:.2g}){gamma}",
    "sign-undetermined": "{who}: sign undetermined, {label} {fit} (p = {p:.2g}){gamma}; would "
                         "decide: {need}",
    "taylor-note": "; Taylor estimate eta1 max|a| = {taylor:.2f} at N = {N}",
    # the limit rule (limit.py)
    "limit-no-width": "no width can decide",
    "limit-no-usable": "{clauses:semicolons}",
    "left-out": "{clauses:semicolons}; ",
    "limit-one-width": "mean {mean} at N = {N}: a verdict needs the last two widths",
    "limit-ci-wide": "CI wider than the tolerance: mean {mean} at N = {N} has half-width "
                     "{half_width:.3g} > {tolerance:.3g}{more}",
    "limit-consistent": "mean {mean} at N = {N} within {predicted:.4g} +- {tolerance:.3g}, and "
                        "at N = {N_before} too",
    "limit-inconsistent": "mean {mean} at N = {N} outside {predicted:.4g} +- {tolerance:.3g} at "
                          "the last two N (adjusted p = {p:.2g}), deviation {deviations[0]:.3g} "
                          "-> {deviations[1]:.3g} not significantly shrinking",
    "limit-shrinking": "deviation {deviations[0]:.3g} -> {deviations[1]:.3g} shrinking toward "
                       "the prediction: pre-asymptotic; would decide: larger N than {N}",
    "limit-misses": "mean {mean} at N = {N} misses the band {predicted:.4g} +- {tolerance:.3g} "
                    "but not significantly at the last two N",
    "limit-meets-last-only": "mean {mean} at N = {N} meets the band {predicted:.4g} +- "
                             "{tolerance:.3g} but the mean at N = {N_before} does not",
    # the extrapolated-limit rule (extrapolated.py)
    "extrapolated-too-few": "fewer than two usable widths with two seeds: no limit can be "
                            "extrapolated",
    "extrapolated-span": "limit r_inf = {fit} from N = {Ns:list}: an extrapolation needs >= "
                         "{need_widths} usable widths spanning >= {need_range:g}x",
    "extrapolated-ci-wide": "limit r_inf = {fit} from N = {Ns:list}: CI half-width "
                            "{half_width:.3g} wider than the tolerance {tolerance:.3g}",
    "extrapolated-consistent": "limit r_inf = {fit} from N = {Ns:list} within {predicted:.4g} "
                               "+- {tolerance:.3g}",
    "extrapolated-inconsistent": "limit r_inf = {fit} from N = {Ns:list} outside "
                                 "{predicted:.4g} +- {tolerance:.3g} (adjusted p = {p:.2g})",
    "extrapolated-not-significant": "limit r_inf = {fit} from N = {Ns:list} misses "
                                    "{predicted:.4g} +- {tolerance:.3g} but not significantly "
                                    "after BH (p = {p:.2g})",
    # findings no data can decide (base.py's _blocked)
    "no-prediction": "no finite-N prediction: {why}",
    "amplitude-zero": "predicted amplitude 0 at N = {N} (absent at leading order): no ratio can "
                      "be formed; its size is the null floor's, see term-exponent",
    "paper-count-zero": "the paper count is 0: no step-two outlier is predicted",
    # outlier-locations (amplitude.py)
    "location-ambiguous": "at N = {N} the predicted location of term(s) {terms} lies within "
                          "{band:g} edge-fluctuation units ({width:.3g}) of the edge",
    "visible-note": "predicted {expected:list}; {terms:semicolons}",
    "count-at": "{count} at N = {N}",
    "identified-in": "term {k}'s outlier identified in {seen:list}",
    "seeds-at": "{seen} seeds at N = {N}",
    "empirical-edge": "empirical edge {edge:.4g}",
    "no-empirical-edge": "no empirical edge",
    "location-in-band": "at N = {N} the predicted outlier {location:.4g} (gap {gap:.3g} above "
                        "the edge {edge:.4g}) lies within {band:g} edge-fluctuation units "
                        "({width:.3g}, s_N = {scale:.3g}; {empirical}) of the edge, so it cannot "
                        "be told from the edge (identified in {seen} seeds)",
    "location-few-seeds": "at N = {N} the outlier of term {k} is identified in only {seen} "
                          "seeds (a seed without it is a missing measurement)",
    "gap-note": "gap tolerance {units:g} s_N",
    # the visible-count rule (amplitude.py)
    "visible-count-untested": "the count agrees only where no step-two outlier is predicted "
                              "out of the bulk (N = {Ns:list}), which does not test the "
                              "locations; would decide: a width where a term is predicted out "
                              "of the edge's band; {limit}",
}

#: Codes of a reason that says the regime guard kept every width from deciding: the verdict's
#: status is then ``blocked`` (:class:`Status`), and a verdict stored as ``inconclusive`` with
#: one of them loads as ``blocked`` (``Verdict.from_dict``).  ``limit-no-usable`` and
#: ``extrapolated-too-few`` block only when the guard alone leaves no width (their rules).
BLOCKED_CODES = frozenset({"guard-nonsmooth", "guard-outside", "count-blocked",
                           "count-outside"})


class _Formatter(string.Formatter):
    """``str.format`` plus the spec ``list<spec>``: a sequence joined by ", ", each item
    formatted with ``<spec>`` (``{Ns:list}``, ``{slopes:list.2f}``); ``semicolons``: clauses
    joined by "; "; ``learns``: a bool as "learns" / "does not learn"."""

    def format_field(self, value: Any, spec: str) -> str:
        if spec.startswith("list"):
            return ", ".join(format(v, spec[4:]) for v in value)
        if spec == "semicolons":
            return "; ".join(str(v) for v in value)
        if spec == "learns":
            return "learns" if value else "does not learn"
        return super().format_field(value, spec)


_FORMATTER = _Formatter()


def _excluded_code(excluded: Mapping[int, Reason | str]) -> dict[str, Any]:
    """``{"excluded_code": {N: ...}}`` of a limit rule's ``excluded`` clauses that are
    Reasons (their texts are kept as ``excluded``), else nothing."""
    codes = {str(N): why.to_dict() for N, why in excluded.items() if isinstance(why, Reason)}
    return {"excluded_code": codes} if codes else {}


def _excluded_of(d: Mapping[str, Any]) -> dict[int, Reason | str]:
    """The ``excluded`` clauses of a limit rule's stored inputs (:func:`_excluded_code`)."""
    codes = d.get("excluded_code") or {}
    return {int(N): Reason.from_dict(codes[N]) if N in codes else why
            for N, why in d.get("excluded", {}).items()}


def _note_code(note: Reason | str) -> dict[str, Any]:
    """``{"note_code": ...}`` of a rule's ``note`` when it is a Reason (its text is kept as
    ``note``, the form stored before reasons had codes), else nothing."""
    return {"note_code": note.to_dict()} if isinstance(note, Reason) else {}


def _note_of(d: Mapping[str, Any]) -> Reason | str:
    """The ``note`` of a rule's stored inputs (:func:`_note_code`)."""
    return Reason.from_dict(d["note_code"]) if d.get("note_code") else d.get("note", "")


def render(code: str, params: Mapping[str, Any]) -> str:
    """The text of ``code`` with ``params`` (:data:`TEMPLATES`)."""
    try:
        template = TEMPLATES[code]
    except KeyError:
        raise ValueError(f"unknown reason code {code!r}; known: "
                         f"{', '.join(sorted(TEMPLATES))}") from None
    body = _FORMATTER.vformat(template, (), params)
    then = "".join(str(r) for r in params.get("then", ()))
    return f"{params.get('prefix', '')}{body}{then}{params.get('suffix', '')}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Reason):
        return value.to_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _loaded(value: Any) -> Any:
    if isinstance(value, Mapping) and "code" in value and "params" in value:
        return Reason.from_dict(value)
    if isinstance(value, list):
        return [_loaded(v) for v in value]
    return value


class Reason(str):
    """Why a verdict is what it is: ``code`` (a key of :data:`TEMPLATES`) and ``params``
    (JSON-able values; a parameter may be a Reason itself), immutable.  The string value is
    the rendered text (:func:`render`).

    ``Reason(code, params)``, ``Reason(code, name=value, ...)``; ``Reason.text(s)``: free text
    (code :data:`TEXT`).  ``to_dict`` / ``from_dict``: ``{"code", "params"}``.
    """

    code: str
    params: Mapping[str, Any]

    def __new__(cls, code: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Reason:
        p = {**(params or {}), **kw}
        p = MappingProxyType({k: v for k, v in p.items()
                              if not (k in ("prefix", "suffix", "then")
                                      and (v == "" or list(v) == []))})
        self = super().__new__(cls, render(code, p))
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "params", p)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a Reason is immutable (cannot set {name!r})")

    def __reduce__(self):
        return (Reason, (self.code, dict(self.params)))

    def __repr__(self) -> str:
        return f"Reason({self.code!r}, {dict(self.params)!r})"

    @property
    def message(self) -> str:
        """The rendered text as a plain ``str``."""
        return str.__str__(self)

    @classmethod
    def text(cls, text: str) -> Reason:
        """A reason given as free text (code :data:`TEXT`)."""
        return cls(TEXT, text=str(text))

    @classmethod
    def of(cls, value: Reason | str | Mapping[str, Any]) -> Reason:
        """``value`` as a Reason: a Reason as is, a ``{"code", "params"}`` mapping rebuilt, any
        other string as free text."""
        if isinstance(value, Reason):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        return cls.text(value)

    def then(self, clause: Reason) -> Reason:
        """This reason followed by ``clause`` (its code unchanged; ``params["then"]``)."""
        params = dict(self.params)
        params["then"] = [*params.get("then", ()), clause]
        return Reason(self.code, params)

    def with_suffix(self, suffix: str) -> Reason:
        """This reason with ``suffix`` appended to its text (its code unchanged)."""
        if not suffix:
            return self
        params = dict(self.params)
        params["suffix"] = f"{params.get('suffix', '')}{suffix}"
        return Reason(self.code, params)

    def find(self, code: str) -> Reason | None:
        """The first reason of code ``code`` in this one and its parameters (depth first),
        or None: ``v.reason.find("guard-prefix")`` finds the guard's clause of a verdict."""
        if self.code == code:
            return self
        for value in self.params.values():
            for item in (value if isinstance(value, (list, tuple)) else [value]):
                if isinstance(item, Reason) and (hit := item.find(code)) is not None:
                    return hit
        return None

    def codes(self) -> list[str]:
        """The codes of this reason and of the reasons in its parameters (depth first)."""
        out = [self.code]
        for value in self.params.values():
            for item in (value if isinstance(value, (list, tuple)) else [value]):
                if isinstance(item, Reason):
                    out += item.codes()
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": _jsonable(dict(self.params))}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Reason:
        return cls(d["code"], {k: _loaded(v) for k, v in d.get("params", {}).items()})


__all__ = ["BLOCKED_CODES", "TEMPLATES", "TEXT", "Reason", "Status", "render"]
