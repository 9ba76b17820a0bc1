"""`twostep verify|report|fuzz`: bad input is one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import json

import pytest
from _cli import run_cli


def _nothing_written(path):
    return sorted(p.name for p in path.iterdir()) == sorted(
        p.name for p in path.iterdir() if p.name.startswith("input"))


@pytest.mark.parametrize("argv, fragment", [
    (["verify", "--claim", "no-such-claim"], "unknown claim 'no-such-claim'; known: "),
    (["verify", "--claim", "bbp", "--N", "1", "100"], "N must be >= 2"),
    (["verify", "--claim", "bbp", "--N"], "expected at least one argument"),
    (["verify", "--claim", "bbp", "--seeds", "0"], "--seeds must be an integer >= 1"),
    (["verify", "--claim", "bbp", "--config", "input-bad.json"], "config is not valid JSON"),
    (["verify", "--claim", "bbp", "--config", "input-unknown.json"],
     "unknown config field(s) colour"),
    (["verify", "--claim", "bbp", "--config", "input-range.json"], "alpha1 must be in [0, 1/2)"),
    (["verify", "--claim", "bbp", "--config", "input-missing.json"], "cannot read config file"),
    (["verify", "--out", "input-file.txt"], "exists and is not a folder"),
    (["verify", "--out", "no/such/parent/dir"], "does not exist"),
    (["verify", "--N", "100", "200"], "--config and --N go with --claim"),
    (["verify", "--jobs", "0"], "jobs"),
    (["fuzz", "--claim", "nope"], "unknown claim 'nope'"),
    (["fuzz", "--claim", "bbp", "--N", "1"], "--N needs widths >= 19"),
    (["report", "input-missing.sqlite", "--out", "r"], "does not exist"),
    (["report", "input-file.txt", "--out", "r"], "input-file.txt"),
])
def test_bad_input(capsys, workdir, argv, fragment):
    (workdir / "input-bad.json").write_text("{not json")
    (workdir / "input-unknown.json").write_text(json.dumps({"colour": "red"}))
    (workdir / "input-range.json").write_text(json.dumps({"alpha1": 0.7}))
    (workdir / "input-file.txt").write_text("I am not a store")
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (out, err)
    assert fragment in err
    assert err.count("\n") == 1
    assert _nothing_written(workdir), sorted(p.name for p in workdir.iterdir())
    assert (workdir / "input-file.txt").read_text() == "I am not a store"
