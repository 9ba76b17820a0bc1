"""``twostep simulate``: summary, --json, --out and one-line errors (exit 2)."""

from __future__ import annotations

import json
import os
import re

import pytest

from twostep.compare import cli
from twostep.compare.commands import simulate as command
from twostep.simulate import Measurement

SMALL = ["simulate", "--N", "120", "--activation", "tanh(z + 1/2)"]


def exit_code(argv: list[str]) -> int:
    """What the console script returns (argparse errors exit through SystemExit)."""
    try:
        return cli.main(argv)
    except SystemExit as stop:
        return int(stop.code)


def test_summary_lists_outliers_edges_and_amplitudes(capsys):
    assert cli.main(SMALL + ["--seed", "1"]) == 0
    out = capsys.readouterr().out
    for text in ("outliers of W1", "outliers of W2", "outliers of W_T - W_{T-1}",
                 "bulk edge of W_0 (theory 1 + sqrt(N/d)): 2.0000", "null floor",
                 "visible_new_outliers", "step one: top singular value of W1"):
        assert text in out, text
    assert "a^1 (k=0)" in out  # the step-one spike is identified


def test_json_output_has_the_measurement_keys(capsys):
    assert cli.main(SMALL + ["--json", "--steps", "0.2:1:fresh,0.4:2:fresh,0.1:1:reuse"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"spectra", "outliers", "amplitudes", "step_one_spike", "bulk_edge",
            "bulk_edge_empirical", "visible_new_outliers"} <= set(data)
    assert data["format"] == "twostep.simulate.Measurement/3"
    assert set(data["spectra"]) == {"W1", "W2", "W3", "update"}
    assert [s["batch"] for s in data["provenance"]["steps"]] == ["fresh", "fresh", "reuse"]
    # steps 1 and 2 are copied into the recorded config
    assert (data["config"]["alpha1"], data["config"]["alpha2"]) == (0.2, 0.4)
    assert data["config"]["batch"] == "independent"


def test_out_writes_loadable_files(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert cli.main(SMALL + ["--out", str(out), "--spectrum", "--dtype", "float32"]) == 0
    assert "saved" in capsys.readouterr().out
    m = Measurement.load(out)
    assert m.N == 120 and m.options.dtype == "float32"
    assert m.spectrum("W2").values.shape == (120,)


@pytest.mark.parametrize("argv,message", [
    (["--dtype", "float16"], "dtype must be one of float64, float32"),
    (["--N", "1"], "--N must be an integer >= 2"),
    (["--N", "abc"], "invalid int value"),
    (["--steps", "0.3:1"], "cannot read step"),
    (["--alpha1", "0.7"], r"alpha1 must be in \[0, 1/2\)"),
    (["--activation", "nosuch"], "unknown function name"),
    (["--top", "0"], "--top must be an integer >= 1"),
    (["--loss", "hinge"], "loss must be one of squared, correlation"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert exit_code(["simulate", "--N", "50"] + argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(("twostep simulate: error:", "twostep"))
    assert re.search(message, err), err


def test_unwritable_out_is_refused_before_simulating(tmp_path, monkeypatch, capsys):
    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated despite a bad --out")

    monkeypatch.setattr(command, "simulate_run", no_simulation)
    missing = tmp_path / "no" / "such" / "dir" / "m.json"
    assert cli.main(SMALL + ["--out", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(SMALL + ["--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert cli.main(SMALL + ["--out", str(tmp_path / "m.npz")]) == 2
    assert "may not end in .npz" in capsys.readouterr().err
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert cli.main(SMALL + ["--out", str(locked / "m.json")]) == 2
        assert "not writable" in capsys.readouterr().err
