"""Results, verdicts and findings, and the run-wide multiple-testing step (:func:`decide_all`).

A claim turns measurements (:class:`Results`) into :class:`Finding` s carrying raw p-values;
:func:`decide_all` adjusts every p-value of a run together (Benjamini-Hochberg,
:func:`twostep.compare.science.stats.adjust_pvalues`), each test once, and only then lets each
finding decide its :class:`Verdict` (docs/claims.md).

A finding is either *data*, a registered rule's name and its JSON-able inputs
(:data:`RULES`, :func:`register_rule`; ``Finding.to_dict`` / ``Finding.from_dict`` keep and
rebuild it without the claim), or carries a ``decide`` callable (the older form, still
accepted).  Either way the decision is an :class:`Outcome`.
"""

from __future__ import annotations

import math
from collections import defaultdict, namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twostep.compare.output.table import Table
from twostep.simulate.measurement import Measurement
from twostep.theory import html
from twostep.theory.config import ModelConfig

from .. import stats
from .codes import Reason, Status
from .data import FindingExtra, Interval, MappingInputs, PValues, RuleInputs, extra_of

#: The statuses a decision may have (:class:`~.codes.Status`, a ``str`` Enum).
STATUSES = tuple(Status)

#: Family-wise level of the adjusted tests.
LEVEL = 0.05

#: What ``Verdict.confidence_interval`` returns (like scipy's result objects: ``.low``,
#: ``.high``, and a tuple).
ConfidenceInterval = namedtuple("ConfidenceInterval", ["low", "high"])


# -- results -------------------------------------------------------------------------------------

class Results:
    """Measurements grouped by (config, N): ``results.get(config, N) -> [Measurement]``.

    :meth:`add` takes a :class:`~twostep.simulate.Measurement` or a mapping (a stored JSON
    dict, of the current or an earlier format), converted by ``Measurement.from_dict``.
    """

    def __init__(self) -> None:
        self._data: dict[tuple[str, int], dict[int, Measurement]] = defaultdict(dict)
        self._configs: dict[str, ModelConfig] = {}

    def add(self, config: ModelConfig, N: int, seed: int,
            measurement: Measurement | Mapping[str, Any]) -> None:
        m = Measurement.from_dict(measurement)
        self._configs[config.key()] = config
        self._data[(config.key(), int(N))][int(seed)] = m

    def get(self, config: ModelConfig, N: int) -> list[Measurement]:
        by_seed = self._data.get((config.key(), int(N)), {})
        return [by_seed[s] for s in sorted(by_seed)]

    def seeds(self, config: ModelConfig, N: int) -> list[int]:
        return sorted(self._data.get((config.key(), int(N)), {}))

    def Ns(self, config: ModelConfig) -> list[int]:
        key = config.key()
        return sorted(n for (k, n), v in self._data.items() if k == key and v)

    def __len__(self) -> int:
        return sum(len(v) for v in self._data.values())


# -- intervals at any level ----------------------------------------------------------------------

def interval_at(source: Interval | Mapping[str, Any] | None, level: float
                ) -> ConfidenceInterval | None:
    """The interval of ``source`` (an :class:`Outcome`'s ``interval``: what the statistic was
    computed from, an :class:`~.data.Interval` or its old dict form) at ``level``; None when
    the source cannot be recomputed.

    method "mean": the Student-t interval of the mean (``stats.mean_interval``); "fit": the
    bootstrap interval of the log-log slope (``stats.fit_exponent``, deterministic).
    """
    source = Interval.of(source) if source else None
    if source is None:
        return None
    if source.method == "mean":
        iv = stats.mean_interval(list(source.values), level=level)
    else:
        iv = stats.fit_exponent({N: list(v) for N, v in source.per_N}, level=level)
    return ConfidenceInterval(iv.low, iv.high)


# -- verdicts ------------------------------------------------------------------------------------

#: The meaning of each key of ``Verdict.to_dict()``: the one text the docstring, the code and
#: docs/reference.md share (``tests/test_docs.py`` checks the reference against it).
VERDICT_KEYS = {
    "claim": "claim name",
    "subject": "what was decided (a term, a count, a location ...)",
    "status": "`consistent`, `inconsistent`, `inconclusive` or `blocked` (the regime guard "
              "kept every width from deciding: the theory does not apply; docs/claims.md)",
    "reason": "one line",
    "reason_code": "the reason as data, `{code, params}` (docs/claims.md): `reason` is its text",
    "predicted": "the prediction (a number, a count, a list of terms, `\"learned\"` ...)",
    "statistic": "the measured quantity the decision rests on, at the width(s) that decided "
                 "(`null` when none)",
    "ci": "its 95% interval `[low, high]`, from the same data",
    "decided_at": "the width N whose data gave `statistic` and `ci` (`null`: several widths, "
                  "as for a fitted exponent, or none)",
    "pvalue": "the BH-adjusted p-value of the test that decided: a rejection that needs several "
              "tests to reject together (an intersection-union test) has the largest of them; "
              "`null` when no test decided (every `consistent`, `inconclusive` and `blocked` "
              "verdict)",
    "subject_key": "a stable key of the subject, for code to match on (`paper-count`, "
                   "`aware-count`, `reuse`, `independent` ...; empty when the claim gives none)",
    "config": "the `ModelConfig` as a dict",
    "evidence": "the table: `{\"title\", \"columns\", \"rows\": [{column: value}]}`",
}


@dataclass(frozen=True)
class Verdict:
    """The outcome of one claim on one configuration (scipy.stats-style result object,
    immutable).

    ``status`` is a :class:`~.codes.Status` (consistent | inconsistent | inconclusive |
    blocked, a ``str`` Enum); ``reason`` a :class:`~.codes.Reason`: one line of text (a
    ``str``) whose ``code`` and ``params`` say the same as data (code branches on those, never
    on the text);
    ``evidence`` the per-N table; ``statistic`` the measured quantity the decision rests on,
    at the width(s) that decided (``decided_at``), with its 95% interval ``ci``;
    ``confidence_interval(confidence_level)`` recomputes it at another level where the data
    allow; ``pvalue`` the BH-adjusted p-value of the test that decided (the largest of the
    tests an intersection-union rejection needs), NaN when no test decided.  The keys of
    :meth:`to_dict` mean what :data:`VERDICT_KEYS` says; :meth:`from_dict` reads them back
    (also a verdict stored before reasons had codes: its reason is then free text; and one
    stored before ``blocked`` was emitted: ``inconclusive`` with a guard code,
    :data:`~.codes.BLOCKED_CODES`, loads as ``blocked``).
    """

    claim: str
    subject: str
    status: Status
    reason: Reason
    evidence: Table
    predicted: Any = None
    statistic: float = float("nan")
    ci: tuple[float, float] = (float("nan"), float("nan"))
    pvalue: float = float("nan")
    config: ModelConfig | None = None
    decided_at: int | None = None
    #: a stable key of ``subject`` (prose) for code to match on; empty when none
    subject_key: str = ""
    #: what ``statistic`` was computed from (:func:`interval_at`); not part of equality
    interval: Interval | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ci", tuple(self.ci))
        object.__setattr__(self, "status", Status.parse(self.status))
        object.__setattr__(self, "reason", Reason.of(self.reason))
        object.__setattr__(self, "interval", Interval.of(self.interval))

    @property
    def reason_code(self) -> str:
        """The code of :attr:`reason` (``reason.code``)."""
        return self.reason.code

    def confidence_interval(self, confidence_level: float = 0.95) -> ConfidenceInterval:
        """The statistic's interval at ``confidence_level`` (0.95: ``ci``)."""
        if not 0 < confidence_level < 1:
            raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}")
        if math.isclose(confidence_level, 0.95):
            return ConfidenceInterval(*self.ci)
        iv = interval_at(self.interval, confidence_level)
        if iv is None:
            raise ValueError(f"this verdict ({self.claim}: {self.subject}) keeps only its 95% "
                             "interval; confidence_level must be 0.95")
        return iv

    def __repr__(self) -> str:
        return (f"Verdict(claim={self.claim!r}, subject={html.short(self.subject, 40)!r}, "
                f"status={self.status.value!r}, statistic={self.statistic:.4g}, "
                f"ci=({self.ci[0]:.4g}, {self.ci[1]:.4g}), pvalue={self.pvalue:.3g}, "
                f"reason={html.short(self.reason.message, 40)!r})")

    def _repr_html_(self) -> str:
        return html.verdict(self)

    def to_rows(self) -> list[dict[str, Any]]:
        """The per-N evidence as long rows (``compare.export.evidence_rows``)."""
        from twostep.compare.output.export import evidence_rows

        return evidence_rows(self)

    def evidence_frame(self):
        """:meth:`to_rows` as a pandas DataFrame (``compare.export.evidence_frame``)."""
        from twostep.compare.output.export import evidence_frame

        return evidence_frame(self)

    def to_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "subject": self.subject, "status": self.status.value,
                "reason": self.reason.message, "reason_code": self.reason.to_dict(),
                "predicted": self.predicted,
                "statistic": _num(self.statistic), "ci": [_num(self.ci[0]), _num(self.ci[1])],
                "decided_at": self.decided_at, "pvalue": _num(self.pvalue),
                "subject_key": self.subject_key,
                "config": self.config.to_dict() if self.config else None,
                "evidence": self.evidence.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Verdict:
        """A verdict kept by :meth:`to_dict` (without ``reason_code``: free text)."""
        ev = d["evidence"]
        reason = (Reason.from_dict(d["reason_code"]) if d.get("reason_code")
                  else Reason.text(d["reason"]))
        ci = d.get("ci") or [None, None]
        status = Status.parse(d["status"])
        if status is Status.INCONCLUSIVE:   # stored before 0.4 emitted blocked: the same
            status = Status.undecided(reason.code)   # decision, blocked for a guard code
        return cls(d["claim"], d["subject"], status, reason,
                   Table(ev["columns"], [dict(r) for r in ev["rows"]], ev.get("title", "")),
                   predicted=d.get("predicted"), statistic=_nan(d.get("statistic")),
                   ci=tuple(_nan(c) for c in ci), pvalue=_nan(d.get("pvalue")),
                   config=ModelConfig.from_dict(d["config"]) if d.get("config") else None,
                   decided_at=d.get("decided_at"), subject_key=d.get("subject_key", ""))


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


@dataclass(frozen=True)
class Outcome:
    """A decision: ``status`` (a :class:`~.codes.Status` or its string), ``reason`` (a
    :class:`~.codes.Reason`; a plain string is taken as free text), the ``pvalue`` of the
    test that decided (NaN when none did) and, when the decision rests on one width's data,
    that width ``N`` with its ``statistic``, ``ci`` and ``interval`` source
    (:class:`~.data.Interval`, :func:`interval_at`), and the prediction there
    (``predicted``, for a prediction that depends on N).  ``statistic``, ``ci``,
    ``predicted`` None: the finding's own."""

    status: Status
    reason: Reason
    pvalue: float = math.nan
    statistic: float | None = None
    ci: tuple[float, float] | None = None
    N: int | None = None
    interval: Interval | None = None
    predicted: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status.parse(self.status))
        object.__setattr__(self, "reason", Reason.of(self.reason))
        object.__setattr__(self, "interval", Interval.of(self.interval))

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "reason": self.reason.message,
                "reason_code": self.reason.to_dict(), "pvalue": _num(self.pvalue),
                "statistic": _num(self.statistic),
                "ci": None if self.ci is None else [_num(c) for c in self.ci], "N": self.N}


#: The decision rules a data :class:`Finding` names: ``rule(inputs, adjusted) -> Outcome``
#: (``limit.py``, ``extrapolated.py`` and ``amplitude.py`` of compare/claims register the
#: built-in ones).
RULES: dict[str, Callable[[Any, Mapping[str, float]], Outcome]] = {}
#: The record type of each rule's inputs (:class:`~.data.RuleInputs`; :class:`MappingInputs`
#: for a rule registered without one).
RULE_INPUTS: dict[str, type[RuleInputs]] = {}


def register_rule(name: str, inputs: type[RuleInputs] = MappingInputs):
    """Decorator: register ``fn(inputs, adjusted) -> Outcome`` as the rule ``name``, whose
    ``inputs`` are a record of type ``inputs`` (a :class:`~.data.RuleInputs`)."""
    def wrap(fn):
        RULES[name] = fn
        RULE_INPUTS[name] = inputs
        return fn
    return wrap


def _as_outcome(x: Outcome | tuple[str, str, float]) -> Outcome:
    if isinstance(x, Outcome):
        return x
    status, reason, p = x
    return Outcome(status, reason, p)


@dataclass
class Finding:
    """Evidence of one claim before the multiple-testing correction.

    ``pvalues`` are the raw p-values of the tests whose significance the decision uses (and
    only those: every entry joins the run's BH family): a :class:`~.data.PValues` (a mapping
    test -> p given is converted), read by ``pvalues.names`` and ``pvalues.get(test)``.
    ``extra`` is the rule's own data, a record of the rule's type (a
    :class:`~.data.FindingExtra`: ``ExponentExtra``, ``CoherentExtra``, ``LearningExtra``;
    None when the rule keeps none), read by attribute.  The decision is either the
    registered rule ``rule`` applied to ``inputs`` (the rule's record type,
    ``RULE_INPUTS[rule]``; a JSON-able mapping is converted to it: the finding is then data
    that :meth:`to_dict` keeps and :meth:`from_dict` rebuilds), or ``decide(adjusted)`` (a
    callable returning an :class:`Outcome` or ``(status, reason, pvalue)``).

    Each test enters the BH family once, under its key :meth:`key`: ``(claim, config,
    scope, name)`` with ``scope`` defaulting to the subject.  Findings that share tests (two
    verdicts read off the same sign tests) give the same ``scope``; their shared p-values then
    enter the family once.
    """

    claim: str
    subject: str
    config: ModelConfig
    evidence: Table
    predicted: Any
    statistic: float
    ci: tuple[float, float]
    pvalues: PValues
    decide: Callable[[dict[str, float]], Outcome | tuple[str, str, float]] | None = None
    extra: FindingExtra | None = None
    rule: str = ""
    inputs: RuleInputs | None = None
    scope: str = ""
    #: a stable key of ``subject`` for code to match on (``Verdict.subject_key``)
    subject_key: str = ""

    def __post_init__(self) -> None:
        self.pvalues = PValues.of(self.pvalues)
        self.extra = extra_of(self.extra)
        if self.decide is None and not self.rule:
            raise ValueError("a Finding needs a rule name (with inputs) or a decide callable")
        if self.rule and self.rule not in RULES:
            raise ValueError(f"unknown decision rule {self.rule!r}; registered: "
                             f"{', '.join(sorted(RULES))}")
        if self.rule and not isinstance(self.inputs, RuleInputs):
            self.inputs = RULE_INPUTS[self.rule].from_dict(self.inputs or {})

    def __repr__(self) -> str:
        return (f"Finding(claim={self.claim!r}, subject={html.short(self.subject, 40)!r}, "
                f"rule={self.rule or None!r}, statistic={self.statistic:.4g}, "
                f"ci=({self.ci[0]:.4g}, {self.ci[1]:.4g}), "
                f"tests={sorted(self.pvalues.names)[:4]!r})")

    def _repr_html_(self) -> str:
        return html.finding(self)

    def key(self, name: str) -> tuple[str, str, str, str]:
        """The BH-family key of the p-value ``name``."""
        return (self.claim, self.config.key(), self.scope or self.subject, name)

    def outcome(self, adjusted: Mapping[str, float]) -> Outcome:
        """The decision, given the adjusted p-values of :attr:`pvalues`."""
        if self.rule and self.decide is None:
            return _as_outcome(RULES[self.rule](self.inputs, adjusted))
        return _as_outcome(self.decide(dict(adjusted)))

    def to_rows(self) -> list[dict[str, Any]]:
        """The per-N evidence and recorded inputs as long rows (``compare.export``)."""
        from twostep.compare.output.export import evidence_rows

        return evidence_rows(self)

    def evidence_frame(self):
        """:meth:`to_rows` as a pandas DataFrame (``compare.export.evidence_frame``)."""
        from twostep.compare.output.export import evidence_frame

        return evidence_frame(self)

    def to_dict(self) -> dict[str, Any]:
        """The finding as data (only a rule-based finding: a callable cannot be kept)."""
        if not self.rule or self.decide is not None:
            raise ValueError(f"finding {self.claim}: {self.subject} decides by a callable, not "
                             "by a registered rule; it cannot be kept as data")
        return {"claim": self.claim, "subject": self.subject, "config": self.config.to_dict(),
                "evidence": self.evidence.to_dict(), "predicted": self.predicted,
                "statistic": _num(self.statistic), "ci": [_num(c) for c in self.ci],
                "pvalues": {t.test: _num(t.p) for t in self.pvalues.tests}, "rule": self.rule,
                "inputs": self.inputs.to_dict(), "scope": self.scope,
                "subject_key": self.subject_key}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        """Rebuild a finding kept by :meth:`to_dict`."""
        ev = d["evidence"]
        return cls(d["claim"], d["subject"], ModelConfig.from_dict(d["config"]),
                   Table(ev["columns"], [dict(r) for r in ev["rows"]], ev.get("title", "")),
                   d["predicted"], _nan(d["statistic"]), tuple(_nan(c) for c in d["ci"]),
                   {k: _nan(v) for k, v in d["pvalues"].items()}, rule=d["rule"],
                   inputs=RULE_INPUTS[d["rule"]].from_dict(d["inputs"]) if d["rule"] in RULES
                   else d["inputs"], scope=d.get("scope", ""),
                   subject_key=d.get("subject_key", ""))


def family(findings: Sequence[Finding]) -> dict[tuple, float]:
    """The run's BH family: every test once, by :meth:`Finding.key` (raw p-values).  Two
    findings that give one key different p-values are a bug in the claim (ValueError)."""
    out: dict[tuple, float] = {}
    for f in findings:
        for t in f.pvalues.tests:
            name, p = t.test, t.p
            k = f.key(name)
            if k in out and not (out[k] == p or (math.isnan(out[k]) and math.isnan(p))):
                raise ValueError(f"test {k} enters the BH family twice with different p-values "
                                 f"({out[k]!r}, {p!r})")
            out[k] = p
    return out


def decide_all(findings: Sequence[Finding]) -> list[Verdict]:
    """Adjust every p-value of the run together (Benjamini-Hochberg, each test once by its
    key), then decide each finding."""
    tests = family(findings)
    adjusted = dict(zip(tests, stats.adjust_pvalues(list(tests.values()))))
    out = []
    for f in findings:
        adj = {name: adjusted[f.key(name)] for name in f.pvalues.names}
        o = f.outcome(adj)
        out.append(Verdict(
            claim=f.claim, subject=f.subject, status=o.status, reason=o.reason,
            evidence=f.evidence, predicted=f.predicted if o.predicted is None else o.predicted,
            statistic=f.statistic if o.statistic is None else o.statistic,
            ci=f.ci if o.ci is None else o.ci, pvalue=o.pvalue, config=f.config,
            decided_at=o.N, interval=o.interval, subject_key=f.subject_key))
    return out
