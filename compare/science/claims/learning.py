"""``reuse-learning``: an outlier of W_2 carries beta_* where the theory says (docs/claims.md).

The seed's second result: with independent batches step two learns only directions of
information exponent one; with a reused batch it learns a direction of reuse exponent
``j_* = min{j : E[z sigma_*(z)^j] != 0}`` through the exact term ``k_* = j_* - 1``, provided
that term is an outlier, ``e_{k_*} = alpha2 + k_* alpha1 - k_*/2 > 0``.  Two measured facts decide
it, both free of the step sizes (``T_k = eta_2 eta_1^k D_k``):

- **does term k carry beta_*?**  The cosine of its coherent (rank-one) right vector with beta_*,
  ``c_N = mean(beta_component) / sqrt(mean(coherent_sq))`` over the seeds at width N
  (:class:`~twostep.theory.observables.ExactTerm`: the signed beta_* component of
  ``T_k^T q_{k+1}``, whose mean over batches is exactly zero for a term that does not carry
  beta_*, and the pair estimate of the squared coherent strength).  Its yardstick is a random
  direction of R^d, ``|cos| = d^{-1/2}``: "carries" needs ``|c_N|`` significantly above
  ``d^{-1/2}`` at each of the two largest converging widths (t tests on the seeds' jackknife),
  "does not carry" needs the mean over those widths of ``c_N / d^{-1/2}`` significantly inside
  (-1, 1) (:func:`pooled_below`, two one-sided t tests).  Both are stable
  in N: a carrying term's cosine tends to a constant while ``d^{-1/2}`` falls, a non-carrying
  one's has mean zero.
- **is term k an outlier?**  The sign of its coherent exponent ``e_k`` (the coherent rule,
  :func:`~twostep.compare.science.claims.coherent.exponent_sign`), read from two statistics: the
  pair estimate of the squared strength (``coherent_sq``), and the coherent right vector's beta_*
  component itself (``mean(beta_component)``, :func:`beta_values`), whose exponent is ``e_k``
  where the cosine tends to a constant and at most ``e_k`` anywhere (a component is at most the
  norm).  The component is a projection on one fixed direction, so the neurons' fluctuations
  enter it only through their ``d^{-1/2}`` share along beta_*: for He3 at N = 4000 it is 8 of
  its standard errors from zero with 12 seeds, where ``coherent_sq`` is 2.

Measured "learns": term ``k_*`` decided carrying, and its strength or its beta_* component
decided growing; "does not learn": decided not carrying, or the strength or the beta_* component
decided vanishing (a vanishing component means no growing outlier carries beta_*, whatever the
strength does); the two exponents decided with opposite signs leave it open. Only ``k_*`` is
tested (``k_* = 2`` for a target without a reuse exponent, or ``term``): a lower term carries no
beta_* component because ``j_*`` is the first ``j`` with ``E[z sigma_*(z)^j] != 0``, a Hermite
identity the theory evaluates exactly (and, for ``k = 0``, the information exponent's
``c_1(sigma_*) = 0``); a higher one vanishes before ``k_*`` does (``e_{k+1} = e_k - (1/2 -
alpha1)``). Measuring term 0's cosine below ``d^{-1/2}`` would take about twice the seeds that
decide term ``k_*`` (its per-seed spread is about ``2.3 d^{-1/2}``, He3 at N = 4000). A critical
``e_{k_*} = 0`` is never decided.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from twostep.compare.output.table import Table
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.predict import predict
from twostep.theory.prediction import Prediction

from .base import Claim, _blocked, _both_modes, _check_mode_claim, _term
from .codes import Reason
from .coherent import (
    MissingCoherent,
    cell_seconds,
    coherent_finding,
    coherent_values,
    exponent_sign,
)
from .cosine import (
    Cosine,
    PooledBelow,
    beta_values,
    coherent_cosine,
    pooled_below,
    seeds_to_decide,
)
from .data import ByKey, FindingExtra
from .guard import GUARD_TERMS, Regime, guard_terms, measured_regime
from .results import LEVEL, Finding, Results

#: The term tested for a target without a reuse exponent (He2: never learned this way): the
#: deepest whose coherent part is above the per-seed noise at N <= 4000 (docs/results.md).
DEFAULT_TERM = 2
#: Tolerance of the exponent fit behind the sign test (as ``term-exponent``'s).
SIGN_TOLERANCE = 0.1


@dataclass
class ReuseLearning(Claim):
    """``reuse-learning``: with a reused batch an outlier of W_2 carries beta_* exactly where
    ``e_{j_*-1} > 0``; with independent batches none does for ``j_* > 1`` (module docstring).

    One finding per batch mode.  Predicted: the theory's ``beta.learned`` at the config
    (``claimed``: a user's ``{"reuse": bool, "independent": bool}``, e.g. a planted false
    claim).  ``consistent`` when the measured state (learns / does not learn) is decided and
    agrees, ``inconsistent`` when it is decided and disagrees (the verdict's p-value: the largest
    BH-adjusted p of the tests that decided it), else ``inconclusive`` with what would decide
    it.  The regime guard applies per mode."""

    spectra: ClassVar[str | tuple[str, ...]] = ()  # exact terms only

    name: str = "reuse-learning"
    description: str = ("an outlier carries beta_*: with reuse where e_{j*-1} > 0, never with "
                        "independent batches")
    term: int | None = None
    claimed: Mapping[str, bool] | None = None

    def __post_init__(self) -> None:
        _check_mode_claim(self.claimed, "whether an outlier of W_2 carries beta_* in each "
                                        "batch mode")
        if self.term is not None and (isinstance(self.term, bool)
                                      or not isinstance(self.term, int) or self.term < 0):
            raise ConfigError(f"term must be an integer >= 0, got {self.term!r}")

    def configs(self, config: ModelConfig) -> list[ModelConfig]:
        return _both_modes(config)

    def top_term(self, config: ModelConfig) -> int:
        """``k_* = j_* - 1`` (or ``term``; :data:`DEFAULT_TERM` without a reuse exponent)."""
        if self.term is not None:
            return int(self.term)
        j = predict(config.replace(batch="reuse")).target.reuse_exponent
        return DEFAULT_TERM if j is None else max(0, int(j) - 1)

    def run_options(self, config: ModelConfig) -> dict[str, Any]:
        return {**self.options, "terms": guard_terms(config, max(GUARD_TERMS,
                                                                 self.top_term(config)))}

    def findings(self, config: ModelConfig, results: Results) -> list[Finding]:
        top = self.top_term(config)
        out = []
        for cfg in self.configs(config):
            if not results.Ns(cfg):
                raise ConfigError(f"{self.name} needs measurements of both batch modes "
                                  f"(none for batch={cfg.batch})")
            out.append(self._mode_finding(cfg, top, results))
        return out

    def _mode_finding(self, cfg: ModelConfig, top: int, results: Results) -> Finding:
        """One batch mode's finding: the evidence (:func:`_mode_evidence`), its table, and the
        decision (:func:`_learning_verdict`) against the theory's (or ``claimed``) state."""
        mode = cfg.batch
        pred = predict(cfg)
        # the prediction a user's claim reads (N-independent): predict(config).at(N)
        learned = pred.at(max(results.Ns(cfg)), ks=()).beta.learned
        expect = bool(self.claimed[mode]) if self.claimed is not None else bool(learned)
        subject = f"{mode}: an outlier of W_2 carries beta_* (term k={top})"
        regime = measured_regime(results, cfg)
        if regime.blocked is not None:
            return replace(_blocked(self.name, subject, cfg, expect, regime.blocked),
                           subject_key=mode)
        got = _mode_evidence(self.name, cfg, top, results, regime, pred)
        if isinstance(got, str):
            return replace(_blocked(self.name, subject, cfg, expect, got), subject_key=mode)
        data, pvals = got
        table = _cosine_table(self.name, data)

        def decide(adj: dict[str, float]) -> tuple[str, Reason, float]:
            for row in table.rows:
                N, k = row["N"], row["term"]
                if f"k={k}:above@{N}" in adj:
                    row["p above"] = adj[f"k={k}:above@{N}"]
            return _learning_verdict(data, adj, expect)

        return Finding(self.name, subject, cfg, table,
                       "learns" if expect else "does not learn", math.nan,
                       (math.nan, math.nan), pvals, decide,
                       extra=LearningExtra.of(data), subject_key=mode)


@dataclass(frozen=True)
class LearningExtra(FindingExtra):
    """What a reuse-learning finding keeps (``Finding.extra``): per tested term k (``tested``)
    the coherent ``cosines`` per N (:class:`~.cosine.Cosine`), their ``pooled`` test below the
    yardstick (None with fewer than two converging widths), and the coherent-rule findings of
    the exponent signs of its strength (``signs``) and of its beta_* component (``betas``)."""

    cosines: ByKey[ByKey[Cosine]]
    signs: ByKey[Finding]
    betas: ByKey[Finding]
    pooled: ByKey[PooledBelow | None]
    tested: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """The mapping of the form before 0.4, each sign finding as its own data (its
        ``extra.to_dict()``: a finding that decides by a callable has no JSON form), so that
        the export can write its numbers; ``extra["signs"]`` still gives the findings."""
        out = super().to_dict()
        for name in ("signs", "betas"):
            out[name] = {k: f.extra.to_dict() if f.extra is not None else {}
                         for k, f in getattr(self, name).entries}
        return out

    @classmethod
    def of(cls, data: _ModeEvidence) -> LearningExtra:
        return cls(ByKey.of({k: ByKey.of(c) for k, c in data.cosines.items()}),
                   ByKey.of(data.signs), ByKey.of(data.betas), ByKey.of(data.pooled),
                   tuple(data.tested))


# -- one batch mode's evidence and verdict --------------------------------------------------------

@dataclass(frozen=True)
class _ModeEvidence:
    """What one batch mode's reuse-learning verdict reads: the ``mode``, the ``tested`` terms
    (``k_*`` = ``top``), the widths ``Ns`` and the two largest converging ones ``tail``, the
    ``regime``, the cells' ``seconds``, per tested term the coherent cosines per N, their
    :class:`PooledBelow` over ``tail``, the sign findings of the strength (``signs``) and of
    the beta_* component (``betas``), and the ``critical`` terms (``e_k = 0``)."""

    mode: str
    top: int
    tested: list[int]
    Ns: list[int]
    tail: list[int]
    regime: Regime
    seconds: dict[int, float]
    cosines: dict[int, dict[int, Cosine]]
    pooled: dict[int, PooledBelow | None]
    signs: dict[int, Finding]
    betas: dict[int, Finding]
    critical: set[int]


def _term_cosines(results: Results, cfg: ModelConfig, k: int, Ns: Sequence[int]
                  ) -> dict[int, Cosine] | Reason:
    """Term k's :func:`coherent_cosine` at each N, or why it cannot be measured (a cell stored
    before twostep measured the beta_* component: a :class:`~.codes.Reason`)."""
    out = {}
    for N in Ns:
        ms = results.get(cfg, N)
        terms = [_term(m, k) for m in ms]
        if any(t.beta_component is None or t.coherent_sq is None for t in terms):
            return Reason("stored-before-beta", N=N)
        out[N] = coherent_cosine([t.beta_component for t in terms],
                                 [t.coherent_sq for t in terms], N, ms[0].d)
    return out


def _sign_findings(claim: str, results: Results, cfg: ModelConfig, k: int, exponent: float,
                   regime: Regime, seconds: Mapping[int, float]) -> tuple[Finding, Finding]:
    """The coherent-rule findings whose exponent signs decide whether term k grows: its squared
    strength's and its beta_* component's (:func:`beta_values`)."""
    mode = cfg.batch
    try:
        raw = coherent_values(results, cfg, k, claim)
    except MissingCoherent as err:
        raw = err
    sign = coherent_finding(claim, f"{mode} term k={k}", cfg, exponent, raw=raw, regime=regime,
                            tolerance=SIGN_TOLERANCE, seconds=seconds, k=k)
    beta = coherent_finding(claim, f"{mode} term k={k} beta_* component", cfg, exponent,
                            raw=beta_values(results, cfg, k), regime=regime,
                            tolerance=SIGN_TOLERANCE, seconds=seconds, k=k, power=1,
                            column="<v, beta_*> / sqrt(L)")
    return sign, beta


def _mode_evidence(claim: str, cfg: ModelConfig, top: int, results: Results, regime: Regime,
                   pred: Prediction) -> tuple[_ModeEvidence, dict[str, float]] | str:
    """The :class:`_ModeEvidence` of one batch mode and the raw p-values that join the BH
    family (per tested term: above the yardstick at each ``tail`` width, pooled below it, the
    two exponent signs), or why the measurements cannot decide (:func:`_term_cosines`)."""
    known = {t.k: t for t in pred.laws}
    tested = [top]
    Ns = results.Ns(cfg)
    tail = [N for N in Ns if regime.ok(N)][-2:]
    seconds = cell_seconds(results, cfg)
    cosines: dict[int, dict[int, Cosine]] = {}
    signs: dict[int, Finding] = {}
    betas: dict[int, Finding] = {}
    pooled: dict[int, PooledBelow | None] = {}
    pvals: dict[str, float] = {}
    for k in tested:
        got = _term_cosines(results, cfg, k, Ns)
        if isinstance(got, str):
            return got
        cosines[k] = got
        for N in tail:
            c = cosines[k][N]
            if c.above is not None:
                pvals[f"k={k}:above@{N}"] = c.above
        pooled[k] = pooled_below([cosines[k][N] for N in tail]) if len(tail) >= 2 else None
        if pooled[k] is not None:
            pvals[f"k={k}:below"] = pooled[k].p
        exponent = known[k].exponent if k in known else cfg.alpha2 - k * (0.5 - cfg.alpha1)
        signs[k], betas[k] = _sign_findings(claim, results, cfg, k, exponent, regime, seconds)
        for key, f in ((f"k={k}:sign", signs[k]), (f"k={k}:beta-sign", betas[k])):
            sp = f.extra.sign_pvalue
            if math.isfinite(sp):
                pvals[key] = sp
    critical = {k for k in tested if k in known and known[k].exponent == 0}
    return _ModeEvidence(cfg.batch, top, tested, Ns, tail, regime, seconds, cosines, pooled,
                         signs, betas, critical), pvals


def _cosine_table(claim: str, data: _ModeEvidence) -> Table:
    """The evidence of one batch mode: the tested terms' coherent cosines, one row per N."""
    table = Table(["N", "seeds", "term", "cosine with beta_*", "se", "d^-1/2",
                   "p above", "p below (this width)", "series residual"],
                  title=f"{claim}: coherent cosine of the exact terms with beta_* "
                        f"({data.mode})")
    for N in data.Ns:
        for k in data.tested:
            c = data.cosines[k][N]
            table.add(**{"N": N, "seeds": c.seeds, "term": k, "cosine with beta_*":
                         c.estimate, "se": c.se, "d^-1/2": c.bound, "p above": c.above,
                         "p below (this width)": c.below,
                         "series residual": data.regime.residual.get(N)})
    return table


def _carries(data: _ModeEvidence, k: int, adj: Mapping[str, float]
             ) -> tuple[bool | None, Reason, list[str]]:
    """Whether term k carries beta_* (None: undetermined), the clause saying so and the keys of
    the tests that decided it."""
    tail, Ns = data.tail, data.Ns
    cs = [data.cosines[k][N] for N in tail]
    shown = [f"{c.estimate:.3g} +- {c.se:.2g}" if c.estimate is not None else "unresolved"
             for c in cs]
    where = Reason("cosine-where", shown=shown, widths=list(tail),
                   bounds=[float(c.bound) for c in cs])
    if len(tail) < 2:
        return None, Reason("carries-few-widths", k=k), []
    if any(c.estimate is None for c in cs):
        note = next(c.note for c in cs if c.estimate is None)
        return None, Reason("carries-unresolved", k=k, note=str(note)), []
    up = [f"k={k}:above@{N}" for N in tail]
    pool = data.pooled[k]
    below = ("" if pool is None else
             Reason("cosine-pooled", z=float(pool.z), se=float(pool.se)))
    if all(adj[key] < LEVEL for key in up):
        return True, Reason("carries", k=k, where=where), up
    if pool is not None and adj[f"k={k}:below"] < LEVEL:
        return (False, Reason("carries-not", k=k, where=where, below=below,
                              p=float(adj[f"k={k}:below"])), [f"k={k}:below"])
    if pool is not None and abs(pool.z) < 1:
        more = pool.seeds_to_decide(min(c.seeds for c in cs))
        need = (Reason("need-seeds-at", seeds=more, widths=list(tail)) if more
                else Reason("need-larger-N", N=Ns[-1]))
    else:
        more_up = [seeds_to_decide(c) for c in cs]
        need = (Reason("need-seeds-width", seeds=max(more_up)) if all(more_up)
                else Reason("need-larger-N", N=Ns[-1]))
    then = ([Reason("clause", text=below)] if below else []) + [
        Reason("paren-would-decide", need=need)]
    return None, Reason("carries-undetermined", k=k, where=where, then=then), []


def _grows(data: _ModeEvidence, k: int, adj: Mapping[str, float], beta: bool = False
           ) -> tuple[int | None, Reason | str, list[str]]:
    """The sign of term k's exponent (of its strength, or with ``beta`` of its beta_*
    component; None: undetermined), the clause and the key of the deciding test."""
    if k in data.critical:
        return (None, "" if beta else Reason("learning-critical", k=k), [])
    key = f"k={k}:beta-sign" if beta else f"k={k}:sign"
    sign, text = exponent_sign(
        k, data.betas[k] if beta else data.signs[k], adj.get(key, math.nan), data.regime,
        data.Ns, data.seconds,
        **({"what": f"k={k} beta_* component", "label": "exponent"} if beta else {}))
    return sign, text, ([key] if sign is not None else [])


def _classify_terms(data: _ModeEvidence, adj: Mapping[str, float]
                    ) -> tuple[list[str], list[tuple[int, list[str]]],
                               list[tuple[int, list[str]]], list[int]]:
    """Per tested term: learns (carries, and the strength or the beta_* component grows), lacks
    (does not carry, or either vanishes) or conflicts (the two exponents of opposite signs).
    Returns the clauses and the learning, lacking (each with the deciding keys) and conflicting
    terms."""
    parts: list[str] = []
    learns, lacks, conflict = [], [], []
    for k in data.tested:
        c, ctext, ckeys = _carries(data, k, adj)
        parts.append(ctext)
        if c is False:
            lacks.append((k, ckeys))
            continue
        g, gtext, gkeys = _grows(data, k, adj)
        b, btext, bkeys = _grows(data, k, adj, beta=True)
        parts += [t for t in (gtext, btext) if t]
        # learns: carries, and the term (or its beta_* component, which bounds it from
        # below) grows; does not learn: the term or its beta_* component vanishes
        up = [keys for sign, keys in ((b, bkeys), (g, gkeys)) if sign == 1]
        down = [keys for sign, keys in ((b, bkeys), (g, gkeys)) if sign == -1]
        if up and down:
            conflict.append(k)
        elif c is True and up:
            learns.append((k, ckeys + up[0]))
        elif down:
            lacks.append((k, down[0]))
    return parts, learns, lacks, conflict


def _learning_verdict(data: _ModeEvidence, adj: Mapping[str, float], expect: bool
                      ) -> tuple[str, Reason, float]:
    """The mode's verdict: the measured state (learns / does not learn) against ``expect``."""
    said = Reason("learning-predicted", learns=expect)
    parts, learns, lacks, conflict = _classify_terms(data, adj)
    summary = list(parts)
    if conflict:
        return ("inconclusive", Reason("learning-conflict", said=said, terms=conflict,
                                       summary=summary), math.nan)
    if learns:
        got, keys = True, learns[0][1]
        state = Reason("learning-learns", k=learns[0][0])
    elif len(lacks) == len(data.tested):
        got, keys = False, [key for _, ks in lacks for key in ks]
        state = Reason("learning-lacks", k=data.top)
    else:
        open_ = [k for k in data.tested if k not in {j for j, _ in lacks}]
        return ("inconclusive", Reason("learning-open", said=said, terms=open_, summary=summary),
                math.nan)
    if got == expect:
        return ("consistent", Reason("learning-agrees", state=state, said=said, summary=summary),
                math.nan)
    return ("inconsistent", Reason("learning-disagrees", state=state, said=said,
                                   summary=summary), max(adj[key] for key in keys))
