"""The ``twostep hermite`` command: table, JSON and one-line errors (exit 2)."""

from __future__ import annotations

import json
import math

import pytest

from twostep.compare.cli import main


def run(capsys, *argv):
    rc = main(["hermite", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_table_relu(capsys):
    rc, out, err = run(capsys, "relu", "--order", "4", "--digits", "12")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("Hermite coefficients of relu = Max(0, z)")
    rows = [line.split() for line in lines[2:7]]
    assert [r[0] for r in rows] == ["0", "1", "2", "3", "4"]
    assert rows[0][1] == "0.398942280401" and rows[0][3] == "exact"
    assert rows[0][4] == "sqrt(2)/(2*sqrt(pi))"
    assert rows[3][1] == "0" and "(parity)" in lines[5]
    assert rows[4][2] == "-0.0814337519838"  # mu_4 = -p / sqrt(24)
    assert "information exponent: 1" in out
    assert "reuse exponent: 1" in out
    assert "parity: linear+even" in out


def test_table_tanh_numerical_rows(capsys):
    rc, out, _ = run(capsys, "tanh", "--order", "3", "--digits", "15")
    assert rc == 0
    row1 = next(line for line in out.splitlines() if line.startswith("1 "))
    assert "0.605705509602159" in row1 and "numerical" in row1 and "+- " in row1
    assert "parity: odd" in out


def test_table_reuse_none(capsys):
    rc, out, _ = run(capsys, "He2", "--order", "2", "--reuse-limit", "5")
    assert rc == 0
    assert "reuse exponent: none up to 5" in out
    assert "information exponent: 2" in out


def test_json(capsys):
    rc, out, err = run(capsys, "He3(z)/sqrt(6)", "--order", "5", "--json")
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert set(data) == {"function", "expression", "smooth", "parity", "information_exponent",
                         "reuse_exponent", "reuse_limit", "digits", "coefficients"}
    assert data["function"] == "He3(z)/sqrt(6)"
    assert data["smooth"] is True and data["parity"] == "odd"
    assert data["information_exponent"] == 3 and data["reuse_exponent"] == 3
    assert data["reuse_limit"] == 8 and data["digits"] == 30
    cs = data["coefficients"]
    assert [c["order"] for c in cs] == list(range(6))
    assert set(cs[0]) == {"order", "value", "exact", "closed_form", "error", "normalised",
                          "reason"}
    assert cs[3]["closed_form"] == "sqrt(6)" and cs[3]["exact"] and cs[3]["error"] is None
    assert cs[3]["value"] == pytest.approx(math.sqrt(6), rel=1e-15)
    assert cs[3]["normalised"] == pytest.approx(1.0, rel=1e-15)
    assert all(c["value"] == 0 for c in cs if c["order"] != 3)


def test_json_numerical_and_nulls(capsys):
    rc, out, _ = run(capsys, "tanh", "--order", "2", "--json", "--digits", "20")
    data = json.loads(out)
    c1 = data["coefficients"][1]
    assert c1["exact"] is False and c1["closed_form"] is None
    assert 0 < c1["error"] < 1e-18
    assert data["coefficients"][2]["closed_form"] == "0"
    rc, out, _ = run(capsys, "He4", "--order", "1", "--json")
    assert json.loads(out)["reuse_exponent"] is None


@pytest.mark.parametrize("argv, message", [
    (["tanhh"], "unknown function name 'tanhh'"),
    (["tanh(z"], "cannot parse function 'tanh(z'"),
    (["x*z"], "uses symbol(s) x; only z is allowed"),
    (["tanh", "--order", "-1"], "--order must be in [0, 40], got -1"),
    (["tanh", "--order", "41"], "--order must be in [0, 40], got 41"),
    (["tanh", "--digits", "4"], "--digits must be in [5, 100], got 4"),
    (["tanh", "--digits", "101"], "--digits must be in [5, 100], got 101"),
    (["tanh", "--reuse-limit", "0"], "--reuse-limit must be in [1, 20], got 0"),
    (["exp(z**2)"], "diverges"),
    (["log(z)"], "not real-valued"),
])
def test_bad_input_one_line_exit_2(capsys, argv, message):
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    assert out == ""  # nothing half-written
    assert err.count("\n") == 1 and message in err
    assert err.startswith("twostep hermite: error:")


def test_bad_flag_one_line_exit_2(capsys):
    # argparse errors leave through SystemExit (cli._Parser.error), also one line
    with pytest.raises(SystemExit) as info:
        main(["hermite", "tanh", "--order", "two"])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "invalid int value: 'two'" in err
