"""Hardening of theory, hermite, simulate and fuzz (issue 9, "Hangs and tracebacks" and
"Messages that mislead"): every bad input is one line on stderr and exit 2, nothing hangs,
nothing is half-written, the help names only what users have."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from fractions import Fraction

import pytest

from twostep.compare.cli import COMMANDS, build_parser, main

TWOSTEP = [sys.executable, "-m", "twostep.compare.cli"]


def _one_line_exit_2(argv, capsys) -> str:
    """Run ``twostep argv`` in-process: exit 2, exactly one stderr line, no traceback."""
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse refuses a flag value before main's handlers
        code = stop.code
    captured = capsys.readouterr()
    err = captured.err.strip("\n")
    assert code == 2, (code, captured.err)
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


# -- hangs: every evaluation has a time budget --------------------------------------------------


def _timed(argv: list[str], timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    proc = subprocess.run(TWOSTEP + argv, capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - t0


@pytest.mark.parametrize("argv", [["hermite", "exp(exp(exp(z)))", "--order", "2"],
                                  ["theory", "--activation", "exp(exp(exp(z)))"]])
def test_triple_exponential_is_refused_at_once(argv):
    # used to run > 90 s in sympy.N(exp(exp(exp(40)))): now the exponential saturates
    proc, wall = _timed(argv, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "diverges" in proc.stderr and "exp(exp(exp(z)))" in proc.stderr
    assert wall < 20


def test_an_evaluation_past_its_budget_gives_up_in_one_line():
    # sin(exp(exp(40))) needs 2^(3e17) bits of argument reduction: only the budget ends it
    budget = 2
    proc, wall = _timed(["hermite", "sin(exp(exp(z)))", "--order", "2",
                         "--time-budget", str(budget)], timeout=60)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith("twostep hermite: gave up on the integrability check of "
                          "sin(exp(exp(z))) after 2 s"), err
    assert "--time-budget" in err
    assert wall < budget + 15  # interpreter start and imports included


def test_budget_in_the_library(monkeypatch):
    from twostep.theory import hermite
    from twostep.theory.errors import TimeBudgetError

    seen = []
    with pytest.raises(TimeBudgetError, match=r"gave up on (c_\d+\(|the integrability check of )"
                                              r"tanh\(z \+ 1/3\)\)? after 0\.05 s"):
        with hermite.time_budget(0.05, progress=seen.append):
            hermite.coefficients("tanh(z + 1/3)", 30, digits=120)
    assert seen and seen[0].startswith("the integrability check of")
    # no budget (the default) leaves the alarm alone
    import signal
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert float(hermite.coefficient("tanh", 1, digits=10)) == pytest.approx(0.6057, abs=1e-4)


def test_budget_without_alarm_in_a_thread():
    # off the main thread no SIGALRM: the quadrature checks the clock between nodes
    import threading

    from twostep.theory import hermite
    from twostep.theory.errors import TimeBudgetError

    out: list = []

    def work():
        try:
            with hermite.time_budget(0.05):
                hermite.coefficients("tanh(z + 2/7)", 30, digits=150)
        except TimeBudgetError as err:
            out.append(err)

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert not t.is_alive()
    assert out and "gave up on" in str(out[0])


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "1e9"])
def test_time_budget_flag_is_checked(value, capsys):
    err = _one_line_exit_2(["hermite", "tanh", "--time-budget", value], capsys)
    assert "--time-budget must be a number of seconds in (0, 86400]" in err


def test_saturated_exponential_keeps_integrable_functions_exact():
    # exp(-exp(exp(z))) is bounded: the check must not refuse it, and quadrature must work
    from twostep.theory import hermite

    c = hermite.coefficients("exp(-exp(exp(z)))", 1, digits=15)
    assert float(c[0]) == pytest.approx(0.10186771161698989, rel=1e-9)
    assert float(c[1]) == pytest.approx(-0.09748245167789309, rel=1e-9)


# -- tracebacks that became one line -----------------------------------------------------------


@pytest.mark.parametrize("activation", ["sign(z)", "Heaviside(z)", "sign(z) + z"])
def test_activation_with_a_jump_is_refused_by_simulate(activation, capsys):
    err = _one_line_exit_2(["simulate", "--activation", activation, "--N", "20", "--top", "2"],
                           capsys)
    assert "has a jump" in err and "Dirac delta" in err and "relu" in err


def test_relu_still_simulates(capsys):
    assert main(["simulate", "--activation", "relu", "--N", "20", "--top", "2",
                 "--null-draws", "2"]) == 0


@pytest.mark.parametrize("N, top", [(2, 1), (3, 2), (3, 1)])
def test_tiny_widths_with_a_small_top_work(N, top, capsys):
    # broadcast error in power_basis when N < max_power (4)
    assert main(["simulate", "--N", str(N), "--top", str(top), "--null-draws", "2"]) == 0
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("argv, least", [(["--N", "5"], 10), (["--N", "9"], 10),
                                         (["--N", "20", "--psi-d", "0.3"], 32),
                                         (["--N", "12", "--top", "15"], 15)])
def test_width_and_top_are_checked_together(argv, least, capsys):
    err = _one_line_exit_2(["simulate", *argv], capsys)
    assert f"use N >= {least}" in err


def test_min_width_is_the_least_width_that_works():

    from twostep.simulate import draws, spectra
    from twostep.theory import ModelConfig

    assert spectra.min_width(10) == 10
    for psi in (0.3, 0.5, 1.0, 1.7, 2.0, Fraction(1, 3)):
        cfg = ModelConfig(psi_d=float(psi))
        for top in (1, 2, 7, 10, 25):
            least = spectra.min_width(top, cfg.psi_d)
            d, _ = draws.dimensions(cfg, least)
            assert min(least, d) >= top
            if least > 1:
                d = math.floor(cfg.exact("psi_d") * (least - 1) + Fraction(1, 2))  # round half up
                assert min(least - 1, d) < top
                with pytest.raises(Exception, match=f"use N >= {least}"):
                    spectra.check_width(least - 1, d, top, cfg.psi_d)


@pytest.mark.parametrize("argv, message", [
    (["theory", "--noise", "1e160"], "noise (tau) must be >= 0 and <= 1e+06"),
    (["theory", "--noise", "nan"], "noise must be finite"),
    (["simulate", "--N", "20", "--top", "2", "--noise", "1e200"],
     "noise (tau) must be >= 0 and <= 1e+06"),
    (["simulate", "--N", "20", "--top", "2", "--seed", str(2**64)],
     "--seed must be an integer >= 0 and <= 2^63 - 1"),
    (["simulate", "--N", "20", "--top", "2", "--seed", "-1"],
     "--seed must be an integer >= 0 and <= 2^63 - 1"),
    (["simulate", "--N", "1"], "--N must be an integer >= 2"),
    (["simulate", "--N", str(10**400)], "--N must be an integer >= 2 and <= 10^12"),
    (["theory", "--N", str(10**400)], "--N must be an integer >= 2 and <= 10^15"),
    (["simulate", "--N", "20", "--top", "0"], "--top must be an integer >= 1"),
    (["simulate", "--batch", "sometimes"], "--batch: must be one of reuse, independent"),
])
def test_bad_values_are_one_line(argv, message, capsys):
    err = _one_line_exit_2(argv, capsys)
    assert message in err


def test_no_runtime_warning_for_huge_noise():
    proc = subprocess.run(TWOSTEP + ["simulate", "--N", "20", "--top", "2", "--noise", "1e200"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "RuntimeWarning" not in proc.stderr and proc.stderr.count("\n") == 1


def test_labels_that_overflow_are_named_at_the_draw():
    from twostep.simulate import draws
    from twostep.theory import ModelConfig, NonFiniteError

    cfg = ModelConfig(target="exp(exp(exp(z)))")
    beta = draws.draw_beta(0, 40, 40)
    with pytest.raises(NonFiniteError, match=r"batch 0: \d+ of the 40 labels .*the target "
                                             r"exp\(exp\(exp\(z\)\)\) gives inf"):
        draws.draw_batch(cfg, 0, 40, 0, beta, draws.check_dtype("float64"))


@pytest.mark.parametrize("out", [".", "/", "sub/", ""])
def test_simulate_out_naming_a_folder_is_refused(out, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    err = _one_line_exit_2(["simulate", "--N", "20", "--top", "2", "--out", out], capsys)
    assert "directory" in err or "needs a file name" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]
    assert not any((tmp_path / "sub").iterdir())


@pytest.mark.parametrize("budget", ["0", "-5", "nan", "inf", "0s", "10h"])
def test_fuzz_budget_is_checked(budget, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    err = _one_line_exit_2(["fuzz", "--claim", "bbp", "--N", "20", "40", "--budget", budget],
                           capsys)
    assert "--budget must be a finite number of minutes > 0" in err
    assert not any(tmp_path.iterdir())


def test_fuzz_budget_in_the_old_seconds_is_refused(tmp_path, monkeypatch, capsys):
    # --budget was seconds before 0.4: 3600 (an hour then) would now be 60 hours
    monkeypatch.chdir(tmp_path)
    err = _one_line_exit_2(["fuzz", "--claim", "bbp", "--N", "20", "40", "--budget", "3600"],
                           capsys)
    assert "--budget is in minutes (since 0.4; it was seconds): 3600 would be 60 hours; " \
           "give 60 for 60 minutes, or 3600m for 60 hours" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("seed", [str(2**64), "-1"])
def test_fuzz_seed_is_checked(seed, capsys):
    err = _one_line_exit_2(["fuzz", "--claim", "bbp", "--N", "20", "40", "--seed", seed],
                           capsys)
    assert "--seed must be an integer >= 0 and <= 2^63 - 1" in err


def test_fuzz_whose_budget_runs_out_at_once_leaves_no_hypothesis_folder(tmp_path):
    # a budget spent before the first example was hypothesis' Unsatisfiable (exit 1), and
    # hypothesis wrote .hypothesis/ into the user's folder
    proc = subprocess.run(TWOSTEP + ["fuzz", "--claim", "bbp", "--N", "20", "40", "--seeds", "1",
                                     "--budget", "1e-9s"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": ""})
    assert proc.returncode == 0, proc.stderr
    assert "budget exhausted" in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_fuzz_width_floor_names_the_least_width(capsys):
    err = _one_line_exit_2(["fuzz", "--claim", "bbp", "--N", "10", "40"], capsys)
    assert "--N needs widths >= 19" in err


# -- messages --------------------------------------------------------------------------------


def test_memory_refusal_suggests_float32_only_for_float64(monkeypatch):
    from twostep.simulate import memory
    from twostep.theory import ConfigError

    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)
    for itemsize, suggests in ((4, False), (8, True)):
        estimate = memory.estimate_peak(16000, 16000, 16000, itemsize, block_rows=512, top=10)
        with pytest.raises(ConfigError) as info:
            memory.check(estimate, allow=False, what="run")
        assert ("float32" in str(info.value)) is suggests, str(info.value)
        assert "a smaller N" in str(info.value)
    with pytest.raises(ConfigError) as info:
        memory.check(estimate, allow=False, what="run", allow_hint=None)
    assert "allow" not in str(info.value)


def _help_texts() -> list[tuple[str, str]]:
    parser = build_parser()
    out = [("twostep", parser.format_help())]
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        out.append((name, p.format_help()))
    return out


def test_help_names_only_what_users_have():
    texts = _help_texts()
    assert {name for name, _ in texts} >= {"twostep", *COMMANDS}
    for name, text in texts:
        assert "``" not in text, name
        for missing in ("THEORY.md", "STYLE.md", "shared/"):
            assert missing not in text, (name, missing)


def test_help_states_the_real_least_width():
    text = dict(_help_texts())["simulate"]
    assert "N >= 10 with the defaults" in " ".join(text.split())


# -- flag spellings ----------------------------------------------------------------------------


@pytest.mark.parametrize("argv, etabar1, etabar2, batch", [
    ([], 1.0, 1.0, "reuse"),
    (["--etabar1", "2", "--etabar2", "3"], 2.0, 3.0, "reuse"),
    (["--eta1", "2", "--eta2", "3"], 2.0, 3.0, "reuse"),
    (["--batch", "independent"], 1.0, 1.0, "independent"),
    (["--batch", "fresh"], 1.0, 1.0, "independent"),
    (["--batch", "reuse"], 1.0, 1.0, "reuse"),
    (["--independent"], 1.0, 1.0, "independent"),
])
def test_flag_spellings(argv, etabar1, etabar2, batch):
    from twostep.compare.commands._config_args import config_from_args

    for command in ("theory", "simulate"):
        args = build_parser().parse_args([command, *argv])
        cfg = config_from_args(args)
        assert (cfg.etabar1, cfg.etabar2, cfg.batch) == (etabar1, etabar2, batch)


def test_steps_accept_independent(capsys):
    assert main(["simulate", "--N", "20", "--top", "2", "--null-draws", "2", "--json",
                 "--steps", "0.3:1:independent,0.45:1:independent"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["config"]["batch"] == "independent"



def test_high_degree_polynomials_are_square_integrable():
    # (z+1)^100 was refused as "grows like exp(z^2/4) or faster" (|f(40)|^2 phi(40) > 1)
    from math import comb, prod

    from twostep.theory import ConfigError, hermite

    c0 = hermite.coefficient("(z+1)**100", 0)
    assert c0.exact
    assert int(c0.value) == sum(comb(100, k) * prod(range(k - 1, 0, -2))
                                for k in range(0, 101, 2))
    with pytest.raises(ConfigError, match="not real-valued"):
        hermite.coefficient("sqrt(-1)*z", 1)


@pytest.mark.parametrize("f", ["exp(1/z)", "exp(exp(1/z))"])
def test_essential_singularity_is_refused_not_a_memory_error(f, capsys):
    # the quadrature turned f(0.001) ~ e^1000 into a fixed-point integer: MemoryError
    err = _one_line_exit_2(["hermite", f, "--order", "1"], capsys)
    assert "diverges" in err and "square-integrable" in err


@pytest.mark.parametrize("activation, where", [
    # issue 27: a singularity on the real line is refused when the function is parsed, by
    # one rule naming the point
    ("log(z)", "log(z) has a singularity on the real line: a logarithmic singularity at z = 0"),
    ("1/z", "1/z has a singularity on the real line: a pole at z = 0"),
    ("sqrt(Abs(z))", "the derivative of sqrt(Abs(z))")])
def test_activation_not_finite_on_the_line_is_named(activation, where, capsys):
    # was "the network output f_0 overflowed" after the first step
    err = _one_line_exit_2(["simulate", "--activation", activation, "--N", "20", "--top", "2"],
                           capsys)
    assert where in err


def test_every_command_has_a_handler_and_a_missing_one_is_an_error(monkeypatch):
    # issue 21, section 7: no "command not built" branch skips a listed command silently
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(COMMANDS)
    for name in COMMANDS:
        assert callable(sub.choices[name].get_default("_run")), name
    monkeypatch.setitem(COMMANDS, "nonexistent", "a command without a module")
    with pytest.raises(ModuleNotFoundError):
        build_parser()
