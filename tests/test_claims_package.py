"""compare.claims as a package: its re-exports, the registry, a Check holding its Claim, and
the fuzzing domain a claim declares (Claim.domain)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from twostep.compare.plans.verify import Check, check
from twostep.compare.science import claims
from twostep.compare.science.claims import (
    BBP,
    BBP_PSI_D,
    Claim,
    Domain,
    ExponentClaim,
    LimitClaim,
    Verdict,
    get_claim,
    registry,
)
from twostep.theory import ConfigError, ModelConfig
from twostep.theory.predict import predict

BUILTIN = ["growth-exponent", "term-exponent", "outlier-count", "left-vectors", "reuse-gap",
           "reuse-learning",
           "bbp", "one-step-spikes", "term-amplitude", "outlier-locations"]

#: the public names code imported from the single-module compare/science/claims.py (the private ones
#: are imported from the module that defines them)
NAMES = ["AMPLITUDE_TOLERANCE", "BBP", "BUILTIN_CLAIMS", "Claim", "ExponentClaim", "Finding",
         "GUARD_TERMS", "GrowthExponent", "LEVEL", "LeftVectors", "LimitClaim", "MIN_RANGE",
         "MIN_RANGE_TO_REFUTE", "MIN_TERM_SHARE", "MIN_WIDTHS", "MIN_WIDTHS_TO_REFUTE",
         "OneStepSpikes", "OutlierCount", "OutlierLocations", "Regime", "Results", "ReuseGap",
         "SPIKE_EXPONENT_MARGIN", "STATUSES", "STEP_TWO_FIELDS", "STEP_TWO_SPECTRA",
         "TREND_MIDPOINT", "TermAmplitudeClaim", "TermExponent", "TermShare", "Verdict",
         "check_claim_name", "claim_names", "decide_all", "enough_widths", "exponent_finding",
         "floor_corrected", "get_claim", "guard_terms", "limit_finding", "measured_regime",
         "register", "term_share"]

MODULES = ["results", "rules", "base", "user", "growth", "bbp", "count", "vectors", "reuse",
           "amplitude", "spikes", "registry", "evidence", "guard", "exponent", "limit",
           "extrapolated", "coherent", "cosine", "learning", "codes", "data"]

CHEAP = ModelConfig(activation="tanh", target="He1", alpha1=0.0, alpha2=0.2, etabar1=3.0,
                    batch="independent")


def _outlier_claim(name: str, **kw) -> LimitClaim:
    return LimitClaim(name=name, predicted=lambda c: predict(c).bulk_edge,
                      statistic=lambda m: m.step_one_spike.value, tolerance=0.5, guard=False,
                      **kw)


# -- the package ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_every_old_name_is_reexported(name):
    assert hasattr(claims, name), name
    assert name in claims.__all__


def test_no_private_name_is_reexported():
    # issue 21, section 7: private names are not API; they live in their defining modules
    assert [n for n in claims.__all__ if n.startswith("_")] == []
    assert [n for n in vars(claims) if n.startswith("_") and not n.startswith("__")] == []
    assert set(NAMES) <= set(claims.__all__)


# two representatives in the default suite (a leaf and the registry); every module: slow
@pytest.mark.parametrize("module", [m if m in ("results", "registry") else
                                    pytest.param(m, marks=pytest.mark.slow) for m in MODULES])
def test_each_module_imports_first_without_a_cycle(module):
    # a fresh interpreter that imports one submodule before anything else of the package
    code = (f"import twostep.compare.science.claims.{module}; "
            "import twostep.compare.science.claims as c; "
            "import json; print(json.dumps(c.claim_names()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out) == BUILTIN


def test_builtins_are_one_explicit_list_the_registry_starts_from():
    # issue 21, section 6: registration is explicit; no module registers itself on import
    from twostep.compare.science.claims.registry import _BUILTINS, check_claim_name

    assert [c.name for c in _BUILTINS] == BUILTIN  # unique, in claim_names() order
    assert all(check_claim_name(c.name) and registry._REGISTRY[c.name] is c for c in _BUILTINS)
    assert not hasattr(registry, "_c")


def test_builtins_are_registered_on_import_and_known_as_builtin():
    assert claims.claim_names()[:len(BUILTIN)] == BUILTIN
    assert claims.BUILTIN_CLAIMS == frozenset(BUILTIN)
    assert isinstance(get_claim("bbp"), BBP)
    assert claims.Verdict is Verdict and registry._REGISTRY["bbp"] is get_claim("bbp")


def test_user_claims_require_statistic_and_predicted():
    with pytest.raises(ConfigError, match="needs statistic= and predicted="):
        ExponentClaim(name="x")
    with pytest.raises(ConfigError, match="needs predicted="):
        LimitClaim(name="x", statistic=lambda m: 1.0)


# -- a Check holds its Claim ---------------------------------------------------------------------

def test_check_resolves_a_name_to_the_registered_claim():
    chk = Check("bbp", CHEAP, (40, 20), 2)
    assert chk.claim is get_claim("bbp")
    assert chk.name == "bbp" and chk.Ns == (20, 40)
    assert chk.to_dict()["claim"] == "bbp"
    assert Check.from_dict(json.loads(json.dumps(chk.to_dict()))) == chk


def test_check_takes_an_unregistered_claim_object():
    mine = _outlier_claim("mine-unregistered")
    chk = Check(mine, CHEAP, (20, 40), 2, {"top": 2})
    assert chk.claim is mine and chk.name == "mine-unregistered"
    assert "mine-unregistered" not in claims.claim_names()
    assert {c.N for c in chk.cells()} == {20, 40}


@pytest.mark.parametrize("claim, fragment", [
    (42, "a check's claim is a registered claim name or a Claim, got int"),
    ("nope", "unknown claim 'nope'; known: growth-exponent"),
])
def test_check_refuses_what_is_not_a_claim(claim, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        Check(claim, CHEAP, (20, 40), 2)


def test_check_refuses_a_claim_name_that_cannot_name_files():
    with pytest.raises(ConfigError, match="may use only letters"):
        Check(_outlier_claim("has space"), CHEAP, (20, 40), 2)


def test_check_runs_a_claim_object_without_touching_the_registry(tmp_path):
    before = dict(registry._REGISTRY)
    seen = []

    def statistic(m):
        # evaluated while the check runs: the claim must not be registered meanwhile
        seen.append("mine-once" in registry._REGISTRY)
        return m.step_one_spike.value

    mine = LimitClaim(name="mine-once", predicted=lambda c: predict(c).bulk_edge,
                      statistic=statistic, tolerance=0.5, guard=False)
    (v,) = check(mine, CHEAP, [20, 40], 2, top=2, store=tmp_path / "s.sqlite")
    assert v.claim == "mine-once" and v.status in claims.STATUSES
    assert seen and not any(seen)
    assert registry._REGISTRY == before


def test_check_keeps_a_registered_claim_of_the_same_name(tmp_path):
    registered = claims.register(_outlier_claim("mine-shadowed"))
    try:
        other = _outlier_claim("mine-shadowed", relative=False)
        check(other, CHEAP, [20, 40], 2, top=2, store=tmp_path / "s.sqlite")
        assert get_claim("mine-shadowed") is registered
    finally:
        registry._REGISTRY.pop("mine-shadowed")


def test_check_refuses_a_claim_named_like_a_builtin():
    with pytest.raises(ConfigError, match="'bbp' is a built-in claim"):
        check(_outlier_claim("bbp"), CHEAP, [20, 40], 2)


# -- the fuzzing domain --------------------------------------------------------------------------

def test_default_domain_draws_the_alphas_and_keeps_the_rest():
    dom = get_claim("outlier-count").domain()
    assert dom == Domain()
    assert dom.alphas and dom.etabar1 is None and dom.psi_d is None and not dom.fixed
    assert dom.psi_values(ModelConfig(psi_d=2.0)) == (2.0,)


def test_bbp_domain_fixes_alpha1_and_draws_etabar1_and_psi_d():
    dom = get_claim("bbp").domain()
    assert not dom.alphas and dom.fixed == {"alpha1": 0.0}
    assert dom.etabar1 == (1.5, 4.0) and dom.psi_d == BBP_PSI_D
    assert dom.psi_values(ModelConfig()) == BBP_PSI_D
    assert dom.core


@pytest.mark.parametrize("kw, fragment", [
    ({"fixed": {"colour": 1}}, "Domain.fixed names unknown config field(s) ['colour']; allowed: "),
    ({"etabar1": (2.0, 1.0)}, "Domain.etabar1 must be (low, high) with 0 < low <= high"),
    ({"psi_d": ()}, "Domain.psi_d must be a non-empty tuple of numbers > 0"),
    ({"psi_d": (1.0, -2.0)}, "Domain.psi_d must be a non-empty tuple of numbers > 0"),
])
def test_bad_domain_is_one_line(kw, fragment):
    with pytest.raises(ConfigError) as err:
        Domain(**kw)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def _drawn(domain, base, n=30):
    from hypothesis import HealthCheck, given, settings

    from twostep.compare.plans.fuzz import draw_configs

    out = []

    @settings(max_examples=n, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(draw_configs(domain, base))
    def collect(cfg):
        out.append(cfg)

    collect()
    return out


def test_bbp_draws_follow_its_domain():
    base = ModelConfig(alpha1=0.3, alpha2=0.45, target="He3")
    drawn = _drawn(get_claim("bbp").domain(), base)
    assert {c.alpha1 for c in drawn} == {0.0}
    assert {c.alpha2 for c in drawn} == {0.45} and {c.target for c in drawn} == {"He3"}
    assert all(1.5 <= c.etabar1 <= 4.0 and round(10 * c.etabar1) == 10 * c.etabar1
               for c in drawn)
    assert {c.psi_d for c in drawn} <= set(BBP_PSI_D) and len({c.psi_d for c in drawn}) > 1


def test_default_draws_keep_the_margin_from_the_critical_lines():
    from twostep.compare.science.strategies import distance_to_critical

    drawn = _drawn(Domain(), ModelConfig(etabar1=0.7))
    assert len({(c.alpha1, c.alpha2) for c in drawn}) > 5
    assert all(distance_to_critical(c.alpha1, c.alpha2) >= 0.02 for c in drawn)
    assert {c.etabar1 for c in drawn} == {0.7}


@dataclass
class _PsiClaim(LimitClaim):
    """A user claim with its own domain: alpha1 and alpha2 fixed, psi_d drawn."""

    def domain(self) -> Domain:
        return Domain(alphas=False, psi_d=(1.0, 2.0), fixed={"alpha1": 0.0, "alpha2": 0.3})


def test_a_user_claim_fuzzes_over_its_own_domain_unregistered():
    from twostep.compare.plans.fuzz import fuzz

    mine = _PsiClaim(name="mine-fuzzed", predicted=lambda c: predict(c).bulk_edge,
                     statistic=lambda m: m.step_one_spike.value, tolerance=0.5, guard=False)
    drawn = []
    res = fuzz(mine, ModelConfig(alpha1=0.2, alpha2=0.1, etabar1=3.0), examples=3, Ns=(20, 40),
               seeds=2, on_example=lambda cfg, verdicts: drawn.append(cfg))
    assert res.claim == "mine-fuzzed" and drawn
    assert {(c.alpha1, c.alpha2) for c in drawn} == {(0.0, 0.3)}
    assert {c.psi_d for c in drawn} <= {1.0, 2.0}
    assert sum(res.counts.values()) == len(drawn)
    assert res.evaluated == len(drawn)
    assert "mine-fuzzed" not in claims.claim_names()


def test_fuzz_refuses_the_core_where_the_domain_says_so():
    from twostep.compare.plans.fuzz import fuzz

    with pytest.raises(ConfigError, match=r"the core view does not evaluate bbp \(it reads "
                                          r"W_1's spectrum\)"):
        fuzz("bbp", ModelConfig(), examples=1, core=True)


def test_fuzz_refuses_a_domain_of_the_wrong_type():
    from twostep.compare.plans.fuzz import fuzz

    @dataclass
    class Bad(LimitClaim):
        def domain(self):
            return {"alphas": True}

    bad = Bad(name="bad-domain", predicted=lambda c: 1.0, statistic=lambda m: 1.0)
    with pytest.raises(ConfigError, match="domain\\(\\) must return a "
                                          "twostep.compare.science.claims.Domain, got dict"):
        fuzz(bad, ModelConfig(), examples=1)


def test_a_claim_subclass_without_domain_gets_the_default():
    @dataclass
    class Plain(Claim):
        name: str = "plain"

    assert Plain().domain() == Domain()


@pytest.mark.parametrize("ci, shown", [
    ((0.25, 0.5), "[0.25, 0.5]"),
    ((float("nan"), 0.5), "-"),
    ((0.25, float("inf")), "-"),
    ((None, 0.5), "-"),
])
def test_summary_shows_only_finite_intervals(ci, shown):
    from twostep.compare.output.report import summary_table
    from twostep.compare.output.table import Table

    v = Verdict("bbp", "s", "consistent", "r", Table(["N"]), ci=ci)
    assert summary_table([v]).rows[0]["CI"] == shown


def test_rules_still_exposes_the_split_rules():
    # issue 21, part 5: rules.py split by concern; the old import path keeps every name, and the
    # data rules register on import
    from twostep.compare.science.claims import evidence, exponent, extrapolated, guard, limit, rules
    from twostep.compare.science.claims.results import RULES

    for name in rules.__all__:
        assert hasattr(rules, name), name
    assert rules.exponent_finding is exponent.exponent_finding
    assert rules.limit_finding is limit.limit_finding
    assert rules.extrapolated_limit_finding is extrapolated.extrapolated_limit_finding
    assert rules.measured_regime is guard.measured_regime and rules.Regime is guard.Regime
    assert rules.enough_widths is evidence.enough_widths
    assert RULES["limit"] is limit.decide_limit
    assert RULES["extrapolated-limit"] is extrapolated.decide_extrapolated_limit
