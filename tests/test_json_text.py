"""The JSON carries every number the text shows (issue 27): ``theory``, ``simulate``, ``verify``
and ``report``, each run twice on the same data, once for the text and once for the JSON.

Every numeric token of the text (integers, decimals, scientific notation, fractions such as
9/20, the ends of intervals, exponents such as N^0.4) must be some number of the JSON, at the
text's own rounding: a token with its last digit in place 10^p matches a JSON number within
half of 10^p of it (a fraction matches exactly).  The JSON's numbers are its numeric values,
its numeric keys and the numeric tokens of its strings (a reason or a statement the JSON
carries as text carries its numbers).  The few tokens that are presentation, not data, are
removed first (:data:`PRESENTATION`, each with its reason).
"""

from __future__ import annotations

import bisect
import contextlib
import io
import json
import math
import re
from fractions import Fraction
from typing import Any

import pytest
from _cli import run_cli

from twostep.compare.cli import main

#: A number not glued to a word (W1, q2, alpha1, float64 are names): an optional minus, then a
#: fraction (9/20) or a decimal with an optional exponent (0.1234, 1.2e-05, 2000).
TOKEN = re.compile(r"(?<![\w.])(-?)(?:(\d+)/(\d+)|(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+))"
                   r"(?![\w/]|\.\d)")

#: Text that is presentation, removed before the numbers are read: (pattern, why).
PRESENTATION = [
    # theory: the formulas the text names, not numbers of the prediction
    (r"floor\(alpha2/\(1/2-alpha1\)\)", "the formula of the paper count"),
    (r"c\^\(1/4\)", "the name of the threshold (its value is printed beside it)"),
    (r"1 \+ sqrt\(N/d\)", "the formula of the bulk edge"),
    # simulate: formulas in the headings
    (r"q_\(k\+1\)", "the name of the direction q_{k+1}"),
    # verify and report: the running number of a verdict ("[6] bbp -- ..."), which orders the
    # text (the JSON list has the same order)
    (r"^\[\d+\] ", "the verdict's running number"),
]
SUMMARY_HEAD = "| # |"  # the summary table: its first column is the running number again


def _half_ulp(text: str) -> float:
    """Half the place value of the last digit of a decimal token."""
    mantissa, _, exp = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (int(exp or 0) - decimals)


def tokens(text: str) -> list[tuple[str, Fraction | float, float]]:
    """``(token, value, half ulp)`` of every number of ``text``."""
    out = []
    for m in TOKEN.finditer(text):
        sign = -1 if m.group(1) else 1
        if m.group(2) is not None:
            out.append((m.group(0), sign * Fraction(int(m.group(2)), int(m.group(3))), 0.0))
        else:
            out.append((m.group(0), sign * float(m.group(4)), _half_ulp(m.group(4))))
    return out


def text_numbers(text: str) -> list[tuple[str, str, Fraction | float, float]]:
    """``(line, token, value, half ulp)`` of every number of ``text`` but the presentation."""
    out, summary = [], False
    for line in text.splitlines():
        if line.startswith(SUMMARY_HEAD):
            summary = True
        elif not line.startswith("|"):
            summary = False
        shown = line
        if summary:  # "| 3 | claim | ...": the running number
            shown = re.sub(r"^\| \d+ \|", "|", shown)
        for pattern, _why in PRESENTATION:
            shown = re.sub(pattern, " ", shown)
        out += [(line, *t) for t in tokens(shown)]
    return out


def json_numbers(data: Any) -> list[float]:
    """Every number of a JSON document, sorted: values, numeric keys, numbers in strings."""
    found: list[float] = []

    def walk(x: Any) -> None:
        if isinstance(x, bool) or x is None:
            return
        if isinstance(x, (int, float)):
            found.append(float(x))
        elif isinstance(x, str):
            found.extend(float(v) for _, v, _ in tokens(x))
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(data)
    return sorted(v for v in found if math.isfinite(v))


def missing_numbers(text: str, data: Any) -> list[str]:
    """The numbers of ``text`` that no number of ``data`` rounds to, with their lines."""
    have = json_numbers(data)
    missing = []
    for line, token, value, half in text_numbers(text):
        v = float(value)
        slack = half * (1 + 1e-9) + 1e-12 * max(1.0, abs(v))  # the float error of v itself
        i = bisect.bisect_left(have, v - slack)
        if i == len(have) or have[i] > v + slack:
            missing.append(f"{token!r} in {line.strip()!r}")
    return missing


def test_the_reader_finds_every_kind_of_number_and_no_name():
    found = [t for _, t, _, _ in text_numbers(
        "a^2 W1 q4 alpha1 float64 | N^0.4 e_k=-9/20 [-0.143, 6.2e-05] 2.0000; 116. (+0.45)")]
    assert found == ["2", "0.4", "-9/20", "-0.143", "6.2e-05", "2.0000", "116", "0.45"]
    summary = "| # | claim |\n|---|---|\n| 7 | bbp 0.5 |"
    assert [t for _, t, _, _ in text_numbers(summary)] == ["0.5"]


def test_the_rounding_rule_is_the_texts():
    assert not missing_numbers("0.1235 1.2e-05 9/20 116", [0.12345, 1.24e-5, 0.45, 115.6])
    assert missing_numbers("0.1235", [0.12356]) == ["'0.1235' in '0.1235'"]
    assert missing_numbers("9/20", [0.4500001])  # a fraction is exact
    assert not missing_numbers("0.16 2.0000", ["x 0.16 y", 2])  # numbers in strings count


def _assert_carried(text: str, data: Any) -> None:
    missing = missing_numbers(text, data)
    assert not missing, f"{len(missing)} number(s) of the text not in the JSON:\n" + "\n".join(
        missing)


# -- theory --------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["--N", "500"],  # the default config: counted terms, crossings, growing amplitudes
    ["--alpha1", "0", "--etabar1", "3", "--N", "400"],  # a BBP outlier, paper count 0
    ["--activation", "tanh(z + 1/2)", "--alpha1", "0.25", "--alpha2", "0.25", "--N", "1000",
     "--etabar1", "0.5"],  # a critical ratio, an even part
])
def test_theory(capsys, argv):
    code, text, err = run_cli(capsys, "theory", *argv)
    assert code == 0, err
    code, out, err = run_cli(capsys, "theory", *argv, "--json")
    assert code == 0, err
    _assert_carried(text, json.loads(out))


# -- simulate ------------------------------------------------------------------------------

def test_simulate(capsys, monkeypatch):
    from twostep.compare.commands import simulate as command

    runs = []
    real = command.simulate_run

    def once(*args, **kwargs):  # the same measurement (and timing) for the text and the JSON
        if not runs:
            runs.append(real(*args, **kwargs))
        return runs[0]

    monkeypatch.setattr(command, "simulate_run", once)
    argv = ["simulate", "--N", "40", "--terms", "3", "--features", "--null-draws", "3",
            "--activation", "tanh(z + 1/2)"]
    code, text, err = run_cli(capsys, *argv)
    assert code == 0, err
    code, out, err = run_cli(capsys, *argv, "--json")
    assert code == 0, err
    assert "ratio" in text and "null floor" in text and "feature matrix" in text
    _assert_carried(text, json.loads(out))


# -- verify and report ---------------------------------------------------------------------

def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    """A tiny verify (N = 20, 40; 2 seeds; inline) of two claims, in text and in JSON (the
    second run reuses the first one's cells): (folder, text, JSON)."""
    root = tmp_path_factory.mktemp("verified")
    (root / "c.json").write_text(json.dumps({"activation": "tanh(z + 1/2)", "alpha1": 0.0,
                                             "alpha2": 0.2, "etabar1": 3.0}))
    runs = []
    for fmt in ("markdown", "json"):
        code, out, err = _main(["verify", "--claim", "term-exponent", "--config",
                                str(root / "c.json"), "--N", "20", "40", "--seeds", "2",
                                "--executor", "inline", "--quiet", "--no-plots", "--store",
                                str(root / "s.sqlite"), "--out", str(root / f"report-{fmt}"),
                                "--format", fmt])
        assert code == 0, err
        runs.append(out)
    return root, runs[0], json.loads(runs[1])


def test_verify(verified):
    _, text, data = verified
    assert "step-size-free exponents" in text and "BBP: theta" in text
    _assert_carried(text, data)


def test_report(verified):
    root, _, _ = verified
    texts = []
    for fmt in ("markdown", "json"):
        code, out, err = _main(["report", str(root / "s.sqlite"), "--out",
                                str(root / f"rebuilt-{fmt}"), "--no-plots", "--format", fmt])
        assert code == 0, err
        texts.append(out)
    _assert_carried(texts[0], json.loads(texts[1]))


def test_verify_json_has_the_text_s_parts(verified):
    _, text, data = verified
    assert set(data) == {"predictions", "verdicts", "step_free_exponents"}
    (entry,) = data["predictions"]
    assert entry["checks"] == ["term-exponent"]
    assert entry["prediction"]["bbp"]["exists"]
    (setup,) = data["step_free_exponents"]
    assert setup["check"] == "term-exponent" and setup["config"]["etabar1"] == 3.0
    assert [g["k"] for g in setup["gammas"]] == [1, 2, 3]  # --terms 3 of term-exponent
    for g in setup["gammas"]:  # N = 20, 40 are too few widths: each undetermined, saying why
        assert g["gamma"] is None and g["reason"] in text


def test_determined_gammas_on_planted_terms():
    """The determined branch of the gamma_k lines (the tiny runs above leave them
    undetermined): terms whose coherent strength grows as N^{alpha2 + k alpha1 - k/2}, with
    10% noise per seed, at widths where the series converges."""
    import numpy as np

    from twostep.compare.commands.verify import json_document, step_free_block
    from twostep.compare.plans.verify import Check
    from twostep.compare.science.claims import Results, get_claim
    from twostep.simulate import Measurement
    from twostep.theory import ModelConfig

    cfg = ModelConfig(activation="tanh(z + 1/2)", alpha1=0.1, alpha2=0.2, etabar1=0.5)
    Ns, seeds, rng = (500, 1000, 2000, 4000), 6, np.random.default_rng(5)
    res = Results()
    for N in Ns:
        for s in range(seeds):
            terms = [{"k": k, "left_power": k + 1, "left_weight": 1.0,
                      "coherent_sq": N ** (2 * (cfg.alpha2 + k * cfg.alpha1 - k / 2))
                      * (1 + 0.1 * rng.standard_normal())} for k in range(3)]
            res.add(cfg, N, s, Measurement(config=cfg, N=N, d=N, n=N, seed=s, terms=terms,
                                           series={"residual": 0.01}))
    plan = [Check(get_claim("term-exponent"), cfg, Ns, seeds)]
    text = step_free_block(plan, [res])
    data = json.loads(json_document([], [], plan, [res]))
    assert "gamma_1 = " in text and "gamma_2 = " in text
    gammas = data["step_free_exponents"][0]["gammas"]
    for g in gammas:  # the planted exponent -k/2 inside the 95% interval
        assert g["interval"][0] <= -g["k"] / 2 <= g["interval"][1], g
        assert g["usable"] == list(Ns) and g["stat"] > 0 and g["reason"] is None
    _assert_carried(text, data)
