"""Fuzzing a claim over (alpha1, alpha2) with hypothesis (``twostep fuzz``).

Each example is one :func:`twostep.compare.plans.verify.check` of the claim at the drawn point --
or, for the claims that read only the exact terms (``outlier-count``, ``term-exponent``,
``reuse-gap``), one *rescaled evaluation* of a single base sweep (compare/plans/core.py): the base
is the config with the largest alpha1 the strategy can draw (so every drawn point's eta1 is at most
the base's at every N), run once with ``terms = 6`` and ``max_power = 7``; each example then
costs a rescaling and the claim's statistics (milliseconds) instead of a sweep.  Its verdict is
that of a direct run with those run options.  A failure found this way is shrunk on the core
as well, and the simplest failing point is then rerun directly with the claim's own options --
exactly what the printed ``twostep verify`` command runs -- and both verdicts are reported.
``inconclusive`` verdicts are counted separately (a finite-N run that cannot decide is not a
failure); an ``inconsistent`` verdict is a failure: hypothesis shrinks it to the simplest
failing point and :func:`fuzz` returns it with the exact command that reproduces it.

Where the points are drawn is the claim's :meth:`~twostep.compare.science.claims.Claim.domain`: by
default ``(alpha1, alpha2)``, keeping a margin (in alpha2) from the critical lines
``alpha2 = k (1/2 - alpha1)``, where the count changes and finite-N behaviour is a crossover.
``bbp`` (alpha1 = 0 by definition) draws ``etabar1`` and ``psi_d`` instead; a user claim may
override ``domain()`` too.
"""

from __future__ import annotations

import contextlib
import json
import math
import shlex
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError

from ..science.claims import BBP_PSI_D, Claim, Domain, Verdict, get_claim


class _Inconsistent(AssertionError):
    pass


__all__ = ["BBP_PSI_D", "MAX_SEED", "FuzzResult", "check_budget", "core_repro_command",
           "draw_configs", "fuzz", "repro_command"]

#: Seeds are integers in [0, 2^63 - 1] everywhere in twostep.
MAX_SEED = 2**63 - 1


def check_budget(budget_s: object) -> float | None:
    """``budget_s`` of :func:`fuzz`: None (no limit) or a finite number of seconds > 0 (the
    command line's ``--budget`` is minutes: ``twostep.compare.commands._budget``)."""
    if budget_s is None:
        return None
    try:
        value = float(budget_s)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(budget_s, bool) or not (math.isfinite(value) and value > 0):
        raise ConfigError(f"budget_s must be a finite number of seconds > 0, got {budget_s!r}")
    return value


@contextlib.contextmanager
def _scratch_hypothesis_home():
    """Hypothesis caches what it learns in ``.hypothesis/`` of the current folder; a fuzz
    run keeps nothing (``database=None``) and writes its caches into a temporary folder,
    so the user's folder is left as it was.  An explicit HYPOTHESIS_STORAGE_DIRECTORY or
    home set by the caller is kept."""
    import os

    from hypothesis import configuration

    current = vars(configuration).get("__hypothesis_home_directory")
    default = vars(configuration).get("__hypothesis_home_directory_default")
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY") or current not in (None, default):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="twostep-hypothesis-") as home:
        configuration.set_hypothesis_home_dir(home)
        try:
            yield
        finally:
            configuration.set_hypothesis_home_dir(current)


@dataclass
class FuzzResult:
    """``counts``: verdict statuses over every evaluated example (shrinking included; one
    example gives one verdict per finding, so they may add up to more than the examples);
    ``evaluated``: how many examples were evaluated (shrinking included)."""

    claim: str
    examples: int
    counts: Counter = field(default_factory=Counter)
    evaluated: int = 0
    failure: ModelConfig | None = None
    failing_verdicts: list[Verdict] = field(default_factory=list)
    command: str | None = None
    budget_exhausted: bool = False
    #: core path: base config, run options, base sweep seconds (None on the direct path)
    core: dict[str, Any] | None = None
    #: core path: the direct rerun of the failing point with the claim's own options
    confirmation: list[Verdict] | None = None
    #: core path: a Python one-liner that reruns the failing point with the core's options
    core_command: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def repro_command(claim: str, config: ModelConfig, Ns: Sequence[int], seeds: int) -> str:
    """A shell one-liner that reruns the claim at ``config``."""
    cfg = json.dumps(config.to_dict(), sort_keys=True)
    return (f"echo {shlex.quote(cfg)} > twostep-fuzz-config.json && twostep verify --claim "
            f"{shlex.quote(claim)} --config twostep-fuzz-config.json --N "
            f"{' '.join(str(n) for n in Ns)} --seeds {seeds}")


def core_repro_command(claim: str, config: ModelConfig, Ns: Sequence[int], seeds: int,
                       options: dict[str, Any]) -> str:
    """A shell one-liner that reruns ``claim`` at ``config`` directly with ``options``."""
    code = (f"from twostep.compare.plans.verify import check; "
            f"from twostep.theory.config import ModelConfig; "
            f"[print(v.status, '|', v.subject, '|', v.reason) for v in check({claim!r}, "
            f"ModelConfig.from_json({config.to_json()!r}), {list(Ns)!r}, {seeds}, "
            f"**{dict(options)!r})]")
    return f"python -c {shlex.quote(code)}"


def draw_configs(domain: Domain, base: ModelConfig, *, resolution: int = 100,
                 margin: float = 0.02) -> Any:
    """The hypothesis strategy of configs around ``base`` that ``domain`` describes."""
    from hypothesis import strategies as st

    from ..science.strategies import alphas

    parts: list[tuple[tuple[str, ...], Any]] = []
    if domain.alphas:
        parts.append((("alpha1", "alpha2"),
                      alphas(resolution=resolution, margin=margin)))
    if domain.etabar1 is not None:
        lo, hi = (int(round(10 * x)) for x in domain.etabar1)
        parts.append((("etabar1",), st.integers(lo, hi).map(lambda i: i / 10)))
    if domain.psi_d is not None:
        parts.append((("psi_d",), st.sampled_from(tuple(domain.psi_d))))
    fixed = dict(domain.fixed)
    if not parts:
        return st.just(base.replace(**fixed))

    def build(values: Any) -> ModelConfig:
        drawn = {}
        for (names, _), value in zip(parts, values if len(parts) > 1 else (values,)):
            drawn.update(zip(names, value) if len(names) > 1 else ((names[0], value),))
        return base.replace(**{**fixed, **drawn})

    if len(parts) == 1:
        return parts[0][1].map(build)
    return st.tuples(*(strategy for _, strategy in parts)).map(build)


def _require_hypothesis() -> None:
    """Refuse with one line when hypothesis (the ``test`` extra) is not installed."""
    try:
        from hypothesis import HealthCheck, Phase, given, reject, settings  # noqa: F401
        from hypothesis import seed as hseed  # noqa: F401
        from hypothesis.errors import Unsatisfiable  # noqa: F401
    except ImportError:
        raise ConfigError("fuzz needs hypothesis: pip install 'twostep[test]'") from None


def _claim_domain(claim: str | Claim) -> tuple[Claim, Domain]:
    """The claim object (a registered name or a :class:`Claim`) and its checked domain."""
    obj = claim if isinstance(claim, Claim) else get_claim(claim)
    domain = obj.domain()
    if not isinstance(domain, Domain):
        raise ConfigError(f"claim {obj.name!r}: domain() must return a "
                          f"twostep.compare.science.claims.Domain, got {type(domain).__name__}")
    return obj, domain


def _check_options(examples: object, budget_s: object, seed: object, margin: float
                   ) -> float | None:
    """Refuse bad ``--examples``, ``--budget``, ``--seed`` or ``--margin`` with one line;
    return the budget in seconds (None: no limit)."""
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise ConfigError(f"--examples must be an integer >= 1, got {examples!r}")
    budget = check_budget(budget_s)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                             or not 0 <= seed <= MAX_SEED):
        raise ConfigError(f"--seed must be an integer >= 0 and <= 2^63 - 1 = {MAX_SEED}, "
                          f"got {seed!r}")
    if not 0 <= margin < 0.25:
        raise ConfigError(f"--margin must be in [0, 0.25), got {margin}")
    return budget


def _check_step_sizes(base: ModelConfig, domain: Domain, Ns: Sequence[int]) -> None:
    """The one bound on step sizes (:func:`twostep.theory.steps.check_step_size`) at the
    largest step any drawn point takes (alpha up to 1/2 where the domain draws the alphas,
    the largest etabar1 it draws), at the largest width: refused before the core's sweep or
    any example runs."""
    from twostep.theory.steps import check_step_size

    fixed = base.replace(**dict(domain.fixed)) if domain.fixed else base
    widths = [N for N in Ns if isinstance(N, int) and not isinstance(N, bool) and N >= 1]
    if not widths:
        return
    etabar1 = max(fixed.etabar1, domain.etabar1[1]) if domain.etabar1 is not None \
        else fixed.etabar1
    alpha1, alpha2 = (0.5, 0.5) if domain.alphas else (fixed.alpha1, fixed.alpha2)
    check_step_size(1, etabar1, alpha1, max(widths))
    check_step_size(2, fixed.etabar2, alpha2, max(widths))


def _uses_core(obj: Claim, base: ModelConfig, domain: Domain, core: bool | None) -> bool:
    """Whether the examples are evaluated on the core view: ``core`` if given, else for the
    claims the core supports when ``base`` has exact terms to rescale (a smooth activation)."""
    from twostep.theory.functions import parse_function

    from . import core as core_view

    use_core = (obj.name in core_view.CORE_CLAIMS) if core is None else bool(core)
    if core is None and not parse_function(base.activation).smooth:
        use_core = False      # no exact terms to rescale: the direct path says so per example
    if use_core and domain.core:
        raise ConfigError(f"the core view does not evaluate {obj.name} ({domain.core})")
    return use_core


def _core_evaluator(obj: Claim, base: ModelConfig, Ns: Sequence[int], seeds: int,
                    result: FuzzResult, *, resolution: int, executor: str, jobs: int | None,
                    on_core: Any) -> Any:
    """Run the one base sweep of the core view (recorded in ``result.core``, then passed to
    ``on_core``) and return the evaluation of a config by rescaling it."""
    from . import core as core_view

    core_view.core_claim(obj)      # refused with one line unless it reads only the terms
    top = (resolution // 2 - 1) / resolution       # the largest alpha1 the strategy draws
    core_base = base.replace(alpha1=max(top, base.alpha1))
    K = core_view.TERMS_CAP
    opts = core_view.core_options(obj, base, [base], {"terms": K, "max_power": K + 1})
    opts["terms"], opts["max_power"] = K, K + 1
    with tempfile.TemporaryDirectory(prefix="twostep-fuzz-") as tmp:
        clock = time.perf_counter()
        base_res = core_view.base_sweep(obj, core_base, Ns, seeds, opts,
                                        f"{tmp}/core.sqlite", executor=executor, jobs=jobs)
    result.core = {"base": core_base, "options": opts,
                   "sweep_s": time.perf_counter() - clock}
    if on_core is not None:
        on_core(result.core)
    bases = obj.configs(core_base)

    def evaluate(config: ModelConfig) -> list[Verdict]:
        verdicts, _, _ = core_view.evaluate_core(obj, base_res, bases, [config], K)
        return verdicts[config.key()]

    return evaluate


def _example_body(obj: Claim, evaluate: Any, result: FuzzResult, last_failure: dict[str, Any],
                  *, budget_s: float | None, t0: float, on_example: Any) -> Any:
    """The test body of one example: reject once the budget is spent, evaluate the config,
    count its verdicts, and raise :class:`_Inconsistent` (recording the config and its
    inconsistent verdicts in ``last_failure``) on an inconsistent one."""
    from hypothesis import reject

    def body(config: ModelConfig) -> None:
        if budget_s is not None and time.perf_counter() - t0 > budget_s:
            result.budget_exhausted = True
            reject()
        verdicts = evaluate(config)
        result.evaluated += 1
        for v in verdicts:
            result.counts[v.status] += 1
        if on_example is not None:
            on_example(config, verdicts)
        bad = [v for v in verdicts if v.status == "inconsistent"]
        if bad:
            last_failure.update(config=config, verdicts=bad)
            raise _Inconsistent(f"{obj.name} inconsistent at alpha=({config.alpha1}, "
                                f"{config.alpha2}): {bad[0].reason}")

    return body


def _run_examples(body: Any, strategy: Any, result: FuzzResult, *, examples: int,
                  seed: int | None, derandomize: bool) -> None:
    """Run ``body`` on up to ``examples`` draws of ``strategy`` (shrinking a failure), with
    hypothesis's caches in a scratch folder; :class:`_Inconsistent` propagates."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis.errors import Unsatisfiable

    test = given(strategy)(body)
    test = settings(max_examples=examples, deadline=None, database=None,
                    derandomize=derandomize, suppress_health_check=list(HealthCheck),
                    phases=(Phase.generate, Phase.shrink), report_multiple_bugs=False,
                    print_blob=False)(test)
    if seed is not None and not derandomize:
        test = hseed(seed)(test)
    try:
        with _scratch_hypothesis_home():
            test()
    except Unsatisfiable:
        # every draw was rejected: only the budget rejects, so it ran out before an example
        if not result.budget_exhausted:
            raise


def _record_failure(obj: Claim, result: FuzzResult, last_failure: dict[str, Any],
                    Ns: Sequence[int], seeds: int, *, executor: str, jobs: int | None) -> None:
    """Record the shrunk failure in ``result`` with its repro command; on the core path also
    the command with the core's options and the direct rerun with the claim's own."""
    from .verify import check

    # hypothesis replays the minimal failing example last, so it is the one recorded
    result.failure = last_failure["config"]
    result.failing_verdicts = last_failure["verdicts"]
    result.command = repro_command(obj.name, result.failure, Ns, seeds)
    if result.core is not None:
        result.core_command = core_repro_command(obj.name, result.failure, Ns, seeds,
                                                 result.core["options"])
        result.confirmation = check(obj, result.failure, Ns, seeds, executor=executor,
                                    jobs=jobs)


def fuzz(claim: str | Claim, base: ModelConfig, *, examples: int = 10,
         Ns: Sequence[int] = (200, 400, 800), seeds: int = 3, seed: int | None = 0,
         margin: float = 0.02, derandomize: bool = False,
         budget_s: float | None = None, resolution: int = 100, executor: str = "inline",
         jobs: int | None = None, on_example: Any = None, core: bool | None = None,
         on_core: Any = None) -> FuzzResult:
    """Fuzz ``claim`` (a registered name or a :class:`Claim`) around ``base`` over its
    :meth:`~Claim.domain` (see the module docstring).  ``core``: evaluate examples by rescaling
    one base sweep (default: for the claims the core supports); ``on_core(info)`` is called
    once the base sweep is done."""
    _require_hypothesis()
    from .verify import check

    obj, domain = _claim_domain(claim)
    budget_s = _check_options(examples, budget_s, seed, margin)
    _check_step_sizes(base, domain, Ns)
    result = FuzzResult(claim=obj.name, examples=examples)
    t0 = time.perf_counter()     # the budget counts the core's base sweep too
    strategy = draw_configs(domain, base, resolution=resolution, margin=margin)
    if _uses_core(obj, base, domain, core):
        evaluate = _core_evaluator(obj, base, Ns, seeds, result, resolution=resolution,
                                   executor=executor, jobs=jobs, on_core=on_core)
    else:
        def evaluate(config: ModelConfig) -> list[Verdict]:
            return check(obj, config, Ns, seeds, executor=executor, jobs=jobs)
    last_failure: dict[str, Any] = {}
    body = _example_body(obj, evaluate, result, last_failure, budget_s=budget_s, t0=t0,
                         on_example=on_example)
    try:
        _run_examples(body, strategy, result, examples=examples, seed=seed,
                      derandomize=derandomize)
    except _Inconsistent:
        _record_failure(obj, result, last_failure, Ns, seeds, executor=executor, jobs=jobs)
    return result
