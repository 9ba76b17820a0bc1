"""`twostep theory`: references in --json, readable table, and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from twostep.compare.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_answers_the_references(capsys):
    code, out, _ = run_cli(capsys, "theory", "--activation", "tanh", "--target", "He1",
                           "--alpha1", "0", "--alpha2", "0.2", "--eta1", "3", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["bbp"]["theta"] == pytest.approx(2.570, abs=5e-4)
    assert d["bbp"]["location"] == pytest.approx(2.959, abs=5e-4)
    assert d["bbp"]["cosine_beta"] == pytest.approx(0.651, abs=5e-4)

    code, out, _ = run_cli(capsys, "theory", "--activation", "tanh", "--alpha1", "0.3",
                           "--alpha2", "0.45", "--independent", "--json")
    d = json.loads(out)
    assert (d["paper_count"], d["aware_count"], d["critical"]) == (2, 1, False)
    assert [t["k"] for t in d["laws"] if t["is_outlier"]] == [2]

    code, out, _ = run_cli(capsys, "theory", "--target", "He3", "--alpha1", "0.3",
                           "--alpha2", "0.45", "--reuse", "--json")
    d = json.loads(out)
    assert (d["beta"]["learned"], d["beta"]["first_term"], d["beta"]["terms"]) == (True, 2, [2])
    assert d["schema"] == 3 and d["features"]["spike_count"] == 2


def test_json_at_N_has_the_observables(capsys):
    code, out, _ = run_cli(capsys, "theory", "--activation", "tanh", "--target", "He1",
                           "--alpha1", "0", "--alpha2", "0.2", "--eta1", "3", "--N", "1000",
                           "--json")
    assert code == 0
    at = json.loads(out)["outliers_at_N"]
    assert at["N"] == 1000
    assert at["step_one_spike"]["value"] == pytest.approx(2.959, abs=5e-4)
    assert set(at["step_one_spike"]) == {"value", "right_u_overlap", "left_a_overlap",
                                         "right_beta_overlap", "u_norm"}
    (w1,) = at["W1"]
    assert w1["term"] == 0 and w1["value"] == at["step_one_spike"]["value"]
    assert w1["growth"] == "critical" and w1["index"] is None  # measured-only: null


@pytest.mark.slow
def test_table_is_readable(capsys):
    code, out, _ = run_cli(capsys, "theory", "--activation", "tanh(z + 1/2)", "--alpha1", "0.3",
                           "--alpha2", "0.45", "--N", "4000")
    assert code == 0
    assert "paper count" in out and "activation-aware count: 2" in out
    assert "| 2 | a^3 |" in out
    assert "outliers of W_2 at N = 4000" in out
    assert "step-one spike of W_1 at N = 4000: " in out and "leading order" in out


@pytest.mark.parametrize("argv, fragment", [
    (["--alpha1", "0.5"], "alpha1 must be in [0, 1/2)"),
    (["--alpha1", "-0.1"], "alpha1 must be in [0, 1/2)"),
    (["--alpha2", "0.7"], "alpha2 must be in [0, 1/2)"),
    (["--alpha2", "nan"], "alpha2 must be finite"),
    (["--alpha1", "x"], "alpha1 must be a number"),
    (["--psi-d", "0"], "psi_d must be > 0"),
    (["--psi-n", "-1"], "psi_n must be > 0"),
    (["--noise", "-0.1"], "noise (tau) must be >= 0"),
    (["--eta1", "0"], "etabar1 must be > 0"),
    (["--eta2", "inf"], "etabar2 must be finite"),
    (["--activation", "foo"], "unknown function name 'foo'"),
    (["--target", "tanh(x)"], "only z is allowed"),
    (["--N", "1"], "--N must be an integer >= 2"),
])
def test_bad_input_one_line_exit_2(capsys, argv, fragment):
    code, out, err = run_cli(capsys, "theory", *argv)
    assert code == 2
    assert fragment in err
    assert err.count("\n") == 1 and out == ""


def test_bad_flag_is_one_line_exit_2():
    proc = subprocess.run([sys.executable, "-m", "twostep.compare", "theory", "--bogus"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "unrecognized arguments: --bogus" in proc.stderr


def test_json_at_N_carries_what_the_text_prints(capsys):
    """Issue 19 §6: `theory --N 2000 --json` lacked the finite-N term amplitudes, locations,
    crossing widths (and term 0's amplitude) that the text output prints."""
    code, text, _ = run_cli(capsys, "theory", "--N", "2000")
    assert code == 0
    code, out, _ = run_cli(capsys, "theory", "--N", "2000", "--json")
    assert code == 0
    terms = json.loads(out)["outliers_at_N"]["terms"]
    assert terms["N"] == 2000 and terms["threshold"] == pytest.approx(1.0)
    by_k = {t["k"]: t for t in terms["terms"]}
    assert sorted(by_k) == [0, 1, 2]
    assert by_k[0]["amplitude"] > 0 and by_k[0]["crossing"] is None
    assert by_k[2]["location"] is not None and by_k[1]["location"] is None
    assert by_k[2]["crossing"]["direction"] == "enters"
    assert terms["visible_new_outliers"] == 1 and terms["amplitudes_grow"] is True
    # every number of the text's step-two lines is in the JSON
    section = text.split("step-two terms at N = 2000", 1)[1]
    for k, t in by_k.items():
        assert f"term {k} (a^{k + 1}): amplitude {t['amplitude']:.4g}" in section
    assert f"outlier at {by_k[2]['location']:.4f}" in section
    assert f"N* = {by_k[2]['crossing']['crossing_width']:.4g}" in section
    assert "visible new outliers at N = 2000 (terms 1 and up shown): 1" in section
