"""Hardening, third round (issue 27), the theory side: every input to the theory gets bounded
work and one line (exit 2, or the numerical-error line, exit 1), never a traceback."""

from __future__ import annotations

import time

import pytest

from tests._cli import run_cli
from twostep.theory.bounded import LIMITS, MAX_DEGREE, MAX_DIGITS
from twostep.theory.errors import ConfigError, NonFiniteError
from twostep.theory.functions import allowed_text, parse_function

#: Seconds a refusal made before any evaluation may take in-process (it takes about 0.1 s; the
#: reproducers ran for more than 120 s).  Generous: the suite shares two cores with others.
QUICK = 10.0


def _one_line(capsys, *argv, code: int = 2) -> str:
    """The one-line error of ``twostep ARGV`` (exit ``code``, nothing on stdout)."""
    start = time.monotonic()
    rc, out, err = run_cli(capsys, *argv)
    assert rc == code, (rc, err)
    assert out == "" and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err, time.monotonic() - start


# -- hangs: sympy's evaluation of the text itself is bounded -----------------------------------

@pytest.mark.parametrize("text, words", [
    ("9**9**9**9", "9**(9**9) has about 3.7e+08 digits"),
    ("2**2**2**2**2*z", "has 19729 digits"),
    ("1e999999999999*z", "the number 1e999999999999 has more than 10^9 digits"),
    ("10**1000*z", "10**1000 has 1001 digits"),
    ("z**100000", "z**100000 has degree 100000"),
    ("(z**20)**20", "(z**20)**20 has degree 400"),
    ("He8(10**200*z)", "has 1609 digits"),
])
def test_too_large_numbers_are_refused_before_evaluation(text, words):
    start = time.monotonic()
    with pytest.raises(ConfigError) as info:
        parse_function(text)
    assert time.monotonic() - start < QUICK
    assert words in str(info.value) and LIMITS in str(info.value), str(info.value)


def test_the_limits_themselves_are_accepted():
    assert parse_function(f"1e{MAX_DIGITS - 1}*z").expr.as_coeff_Mul()[0] == 10**(MAX_DIGITS - 1)
    assert parse_function(f"z**{MAX_DEGREE}").expr.as_poly().degree() == MAX_DEGREE
    assert parse_function("(z+1)**100").expr.as_poly().degree() == 100
    assert parse_function("He8(He8(z))").expr.as_poly().degree() == 64


@pytest.mark.parametrize("argv, words", [
    (["hermite", "9**9**9**9", "--order", "2"], "is too large to evaluate"),
    (["hermite", "factorial(10**9)*z", "--order", "2"], "unknown function(s) factorial"),
    (["hermite", "fibonacci(10**9)*z", "--order", "2"], "unknown function(s) fibonacci"),
    (["hermite", "N(pi, 10**8)*z", "--order", "2"], "unknown function(s) N"),
    (["hermite", "pi.evalf(10**8)*z", "--order", "2"], "cannot parse function"),
    (["hermite", "pow(2, 10**9)*z", "--order", "2"], "unknown function(s) pow"),
    (["theory", "--activation", "2**2**2**2**2*z"], "is too large to evaluate"),
    (["theory", "--activation", "z**100000"], "has degree 100000"),
])
def test_cli_refuses_huge_or_unbounded_text_at_once(capsys, argv, words):
    err, seconds = _one_line(capsys, *argv)
    assert words in err and seconds < QUICK, (err, seconds)


@pytest.mark.parametrize("argv", [["theory", "--activation", "1e999*z"],
                                  ["theory", "--activation", "1e999*z", "--json"],
                                  ["theory", "--target", "1e999*z", "--N", "100"]])
def test_numbers_within_the_limits_but_beyond_float64_are_the_numerical_error_line(capsys, argv):
    # 1e999 is exact for hermite (1000 digits), but its float64 moments are inf: the theory
    # printed "strength theta = inf"
    err, _ = _one_line(capsys, *argv, code=1)
    assert "numerical error" in err and "leave" in err and "float64 range" in err, err

# -- names: every function a text may call is listed; no other is read -------------------------

@pytest.mark.parametrize("text", ["DiracDelta(z)", "zeta(z)", "besselj(0, z)", "gamma(z)",
                                  "factorial(z)", "Integral(z, z)", "KroneckerDelta(z, 0)"])
def test_unlisted_names_are_unknown_functions(text):
    with pytest.raises(ConfigError, match=r"unknown function\(s\)") as info:
        parse_function(text)
    assert allowed_text() in str(info.value)


@pytest.mark.parametrize("argv", [["hermite", "DiracDelta(z)"],
                                  ["theory", "--activation", "DiracDelta(z)"],
                                  ["hermite", "zeta(z)"], ["hermite", "besselj(0, z)"],
                                  ["simulate", "--N", "40", "--target", "zeta(z)"]])
def test_cli_unknown_function_is_one_line(capsys, argv):
    err, _ = _one_line(capsys, *argv)
    assert "unknown function(s)" in err, err


def test_every_listed_name_parses_and_prints_for_numpy():
    listed = allowed_text().split("using them and ")[1].split(", ")
    for name in listed:
        text = name if name in ("pi", "E") else (f"{name}(z, 0)" if name in ("Max", "Min")
                                                 else f"{name}(z)")
        f = parse_function(f"z + {text}".replace("(z", "(1 + 1/(z**2 + 4)"))
        assert f.expr.has(parse_function("z").expr)
        f.numpy(0)  # printed for numpy (a jump's derivative is refused by numpy(1))


# -- one rule for singularities on the real line, naming the point ------------------------------

@pytest.mark.parametrize("text, words", [
    ("tan(z)", "a pole at z = pi/2 (1.5708)"),
    ("1/z", "a pole at z = 0"),
    ("log(z)", "a logarithmic singularity at z = 0, not real-valued below it"),
    ("sqrt(z - 5)", "a branch point at z = 5, not real-valued below it"),
    ("exp(1/z)", "an essential singularity at z = 0"),
    ("cot(z)", "a pole at z = 0"),
    ("sec(z + 1)", "a pole at z = -1 + pi/2 (0.570796)"),
    ("tan(z/1000)", "a pole at z = 500*pi (1570.8)"),  # far out: found exactly, not on a grid
    ("tan(exp(z))", "a pole at z = log(pi/2) (0.451583)"),  # found numerically, then named
    ("1/(cos(z) - 1)", "a pole at z = 0"),  # a double zero: no change of sign
    ("log(z**2)", "a logarithmic singularity at z = 0"),
    ("sin(z)/(z*(z - 1))", "a pole at z = 1"),  # z = 0 is removable
    ("1/(z**3 - 2)", "a pole at z = 2**(1/3) (1.25992)"),
    ("tan(z)*exp(-1000*z**2)", "a pole at z = pi/2"),  # tiny, still not integrable
])
def test_a_singularity_on_the_real_line_is_refused_naming_the_point(text, words):
    with pytest.raises(ConfigError, match="has a singularity on the real line") as info:
        parse_function(text)
    assert words in str(info.value), str(info.value)


@pytest.mark.parametrize("text", ["tanh(z + 1/2)", "softplus", "log(1 + exp(z))", "erf",
                                  "sigmoid", "exp(-z**2)", "sin", "He3", "He8(z)/100",
                                  "relu", "abs", "gelu", "silu", "tanh(z)/z", "sin(z)/z",
                                  "exp(-1/z**2)", "sin(1/z)", "atan(1/z)", "floor(z)",
                                  "sqrt(z**2 + 1)", "log(z**2 + 1)", "tan(exp(-z**2))",
                                  "sech(z)", "asinh(z)", "sqrt(Abs(z))", "z*log(z**2)",
                                  "1/(1 + z**2)", "(z + 1)**100"])
def test_functions_without_a_real_singularity_are_accepted(text):
    parse_function(text)


def test_the_hermite_api_applies_the_same_rule_to_sympy_expressions():
    import sympy

    from twostep.theory import hermite
    from twostep.theory.functions import Z

    with pytest.raises(ConfigError, match="a pole at z = pi/2"):
        hermite.coefficient(sympy.tan(Z), 1)
    with pytest.raises(ConfigError, match="a pole at z = 0"):
        hermite.expectation(1 / Z)
    assert hermite.coefficient(sympy.sin(Z) / Z, 0).defined


@pytest.mark.parametrize("argv", [["hermite", "tan(z)", "--order", "4"],
                                  ["theory", "--activation", "tan(z)", "--N", "500"],
                                  ["simulate", "--activation", "tan(z)", "--N", "40"]])
def test_tan_is_refused_by_every_command(capsys, argv):
    err, seconds = _one_line(capsys, *argv)
    assert "tan(z) has a singularity on the real line: a pole at z = pi/2 (1.5708)" in err
    assert seconds < QUICK


# -- the smallest width the help promises -----------------------------------------------------

def test_theory_at_N_2_prints_the_terms_it_can_and_says_why_not_the_others(capsys):
    rc, out, err = run_cli(capsys, "theory", "--N", "2", "--activation", "He3")  # exact: fast
    assert rc == 0, err
    assert "term 2 (a^3): not derived (term 2 needs N >= 3: q_3" in out
    assert "predicted visible new outliers at N = 2" in out


def test_prediction_at_the_smallest_widths():
    from twostep.theory.config import ModelConfig
    from twostep.theory.predict import predict

    pred = predict(ModelConfig(activation="He3"))  # paper count 2: terms 0..2 (exact: fast)
    at2, at3 = pred.at(2), pred.at(3)
    assert [at2.term(k).amplitude is None for k in (0, 1, 2)] == [False, False, True]
    assert "needs N >= 3" in at2.why("term(2).amplitude")  # None with its reason
    assert all(t.amplitude is not None for t in at3.terms)
    with pytest.raises(ConfigError, match="N must be an integer >= 2"):
        pred.at(1)


# -- one bound on step sizes, before any work ------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["theory", "--etabar1", "1e300", "--N", "1000"],
     "etabar1 = 1e+300 is too large: the step size eta_1 = etabar1 N^alpha1 is 7.94e+300 at "
     "N = 1000"),
    (["theory", "--etabar2", "1e308"], "etabar2 = 1e+308 is too large; step sizes must be at "
                                       "most 1e+15"),
    (["simulate", "--etabar1", "1e300", "--N", "60"], "etabar1 = 1e+300 is too large"),
    (["simulate", "--steps", "0.3:1:fresh,0.45:1e300:reuse", "--N", "60"],
     "etabar2 = 1e+300 is too large"),
])
def test_step_sizes_beyond_the_bound_are_refused(capsys, argv, words):
    err, _ = _one_line(capsys, *argv)
    assert words in err, err


def test_the_bound_is_at_the_width_used():
    from twostep.theory.config import ModelConfig
    from twostep.theory.steps import MAX_STEP, check_step_sizes

    cfg = ModelConfig(etabar1=MAX_STEP / 100, alpha1=0.3)
    check_step_sizes(cfg)  # etabar1 itself is within the bound
    check_step_sizes(cfg, 4)  # 4^0.3 = 1.5 < 100
    check_step_sizes(cfg.replace(alpha1=0.25), 10**8)  # (1e8)^(1/4) = 100: the bound itself
    with pytest.raises(ConfigError, match="is 1.78e\\+15 at N = 1000000000"):
        check_step_sizes(cfg.replace(alpha1=0.25), 10**9)  # (1e9)^(1/4) = 178


def test_prediction_api_refuses_overflowing_step_sizes():
    from twostep.theory.config import ModelConfig
    from twostep.theory.predict import predict

    pred = predict(ModelConfig(etabar1=1e15))  # at the bound: the asymptotic prediction
    with pytest.raises(ConfigError, match="etabar1 = 1e\\+15 is too large: .* at N = 1000"):
        pred.at(1000)
    with pytest.raises(ConfigError, match="etabar1 = 1e\\+15 is too large: .* at N = 1000"):
        pred.term_amplitudes(1000)


def test_theory_moments_beyond_float64_are_the_numerical_error_line(capsys, monkeypatch):
    from twostep.theory import amplitudes

    err, _ = _one_line(capsys, "theory", "--activation", "1e200*z", "--N", "100", code=1)
    assert "term 1: the Gaussian moments of sigma = 1e200*z" in err
    assert "leave the float64 range" in err

    def overflow(*args):  # what (z+1)**100 raised in term_moments._pieces (slow to compute)
        raise OverflowError(34, "Numerical result out of range")

    monkeypatch.setattr(amplitudes, "_pieces", overflow)
    with pytest.raises(NonFiniteError, match="term 2 at N = 50: the Gaussian moments"):
        amplitudes._moments(amplitudes.ModelConfig(), 2, 50)


@pytest.mark.parametrize("command", [
    ["sweep", "--N", "20", "40", "--store", "s.sqlite"],
    ["verify", "--claim", "growth-exponent", "--N", "20", "40", "--store", "s.sqlite", "--out",
     "o", "--quiet", "--no-plots"],
    ["fuzz", "--claim", "outlier-count", "--examples", "2"],
])
def test_sweep_verify_fuzz_refuse_step_sizes_before_any_cell(capsys, workdir, command):
    (workdir / "big.json").write_text('{"etabar1": 1e300}')
    err, seconds = _one_line(capsys, *command, "--config", "big.json")
    assert "etabar1 = 1e+300 is too large" in err and "cell" not in err, err
    assert sorted(p.name for p in workdir.iterdir()) == ["big.json"]  # nothing created
    assert seconds < QUICK


def test_an_overflowing_update_norm_is_named_not_0_of_the_entries():
    import numpy as np

    from twostep.simulate import gd

    n, d = 8, 4
    y = np.ones(n)
    result = gd.StepResult(output=np.zeros(n), residual=y.copy(), u=np.zeros(d))
    G = np.full((6, d), 1e200)  # finite entries whose squares overflow
    with pytest.raises(NonFiniteError, match="norm overflows float64 .* the largest 1e\\+200"):
        gd._guard(1, 1.0, result, G, y, 1.0, d, n)
    G[0, :2] = np.nan  # 2 of 24 entries
    with pytest.raises(NonFiniteError, match="step 1: 0.0833 of the update entries are NaN/Inf"):
        gd._guard(1, 1.0, result, G, y, 1.0, d, n)


# -- the CLI's and the API's checks are one --------------------------------------------------

def test_sweep_refuses_what_theory_refuses_before_any_cell(capsys, workdir):
    err, _ = _one_line(capsys, "sweep", "--activation", "tanh", "exp(z**2)", "--N", "20", "40",
                       "--store", "s.sqlite")
    assert "activation: E[f(z)^2] diverges for f = exp(z**2)" in err, err
    assert list(workdir.iterdir()) == []


def test_check_api_refuses_up_front_what_the_cli_refuses(workdir, monkeypatch):
    from twostep.compare.plans import verify
    from twostep.theory.config import ModelConfig

    def no_cells(*args, **kwargs):
        raise AssertionError("a cell ran before the inputs were checked")

    monkeypatch.setattr(verify, "run_checks", no_cells)
    with pytest.raises(ConfigError, match="N=5 is too small for --top = 10"):
        verify.check("bbp", ModelConfig(alpha1=0.0), Ns=[5], seeds=2)
    with pytest.raises(ConfigError, match="etabar1 = 1e\\+300 is too large"):
        verify.check("bbp", ModelConfig(alpha1=0.0, etabar1=1e300), Ns=[20], seeds=2)
    with pytest.raises(ConfigError, match="E\\[f\\(z\\)\\^2\\] diverges"):
        verify.check("bbp", ModelConfig(alpha1=0.0, activation="exp(z**2)"), Ns=[20], seeds=2)
