"""Claims on real simulations: deliberately false claims must come out ``inconsistent``.

The widths and seeds are the smallest that decide (measured on the 2-core dev machine); the
two checks that need N = 2000, and the false BBP location (N = 1000, 6 seeds), are marked slow
(``make test-slow``): the default suite keeps the CLI end-to-end test here, and planted
false claims on small data in test_claims_amplitude.py, test_claims_guard.py and
test_stats_claims.py.  Every check runs in-process (``executor="inline"``).
"""

from __future__ import annotations

import json

import pytest

from twostep.compare.cli import main
from twostep.compare.plans.verify import check
from twostep.compare.science.claims import ExponentClaim, LimitClaim
from twostep.theory import ModelConfig
from twostep.theory.predict import predict

BBP_CONFIG = ModelConfig(activation="tanh", target="He1", alpha1=0.0, alpha2=0.2, etabar1=3.0,
                         batch="independent")


def _bbp_claim(name, factor):
    # A user's claim: the step-one outlier sits at `factor` x the BBP location.  Tolerance 5%:
    # at N <= 1000 with 6 seeds the per-N CI half-width is ~0.1 (outlier fluctuations of order
    # N^{-1/2}), so a 2% band could not be resolved here; the false claim is 10% off.
    # guard=False: a step-one statistic needs no series of step-two terms (skips their pass)
    return LimitClaim(name=name, predicted=lambda c: factor * predict(c).bbp.location,
                      statistic=lambda m: m.step_one_spike.value, tolerance=0.05,
                      guard=False)


@pytest.mark.slow  # the default suite's end-to-end representative: the verify --claim CLI test
def test_false_bbp_location_is_inconsistent_and_true_one_is_not(tmp_path):
    kw = dict(dtype="float32", top=2, store=tmp_path / "s.sqlite")  # one store: cells run once
    false = check(_bbp_claim("bbp-10pc-high", 1.10), BBP_CONFIG, [250, 500, 1000], 6, **kw)
    true = check(_bbp_claim("bbp-as-predicted", 1.0), BBP_CONFIG, [250, 500, 1000], 6, **kw)
    assert false[0].status == "inconsistent", false[0].reason
    assert false[0].pvalue < 0.05
    assert true[0].status == "consistent", true[0].reason


@pytest.mark.slow  # N = 2000: 1-3 minutes on the 2-core dev machine
def test_exponent_off_by_0_2_is_inconsistent(tmp_path):
    # term 0 of tanh(z+1/2), independent batch, alpha = (0.2, 0.4): e_0 = 0.4.  A claim of 0.6
    # is refuted; the true exponent is not (its local slopes drift: inconclusive or consistent).
    # etabar1 = 0.5: the statistic reads the step-two update, so the regime guard needs the
    # series of exact terms to converge at every width (at etabar1 = 1 its residual is 0.14 at
    # N = 250, which would leave 3 widths: too few to refute).
    cfg = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.2, alpha2=0.4,
                      batch="independent", etabar1=0.5)

    def claim(name, e):
        return ExponentClaim(name=name, predicted=lambda c: e,
                             statistic=lambda m: m.amplitudes[0].amplitude,
                             floor=lambda m: m.amplitudes[0].null_floor, tolerance=0.1)

    kw = dict(dtype="float32", top=2, store=tmp_path / "s.sqlite")
    false = check(claim("exp-plus-0.2", 0.6), cfg, [250, 500, 1000, 2000], 4, **kw)
    true = check(claim("exp-as-predicted", 0.4), cfg, [250, 500, 1000, 2000], 4, **kw)
    assert false[0].status == "inconsistent", false[0].reason
    assert true[0].status != "inconsistent", true[0].reason
    assert "series residual" in false[0].evidence.columns


@pytest.mark.slow  # N = 2000: 1-2 minutes on the 2-core dev machine
def test_user_claim_on_a_diverging_series_is_never_decided(tmp_path):
    # The count configuration at the default step sizes: the series of exact terms diverges
    # (residual > 1 at every N), so neither the theory's e_2 = 0.05 nor a false 0.42 (what the
    # whole-update projection on q_3 shows there) can be confirmed or refuted.
    cfg = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45)

    def claim(name, e):
        return ExponentClaim(name=name, predicted=lambda c: e,
                             statistic=lambda m: m.amplitudes[2].amplitude,
                             floor=lambda m: m.amplitudes[2].null_floor)

    kw = dict(dtype="float32", top=2, store=tmp_path / "s.sqlite")
    for name, e in (("steep", 0.42), ("theory", 0.05)):
        (v,) = check(claim(name, e), cfg, [250, 500, 1000, 2000], 2, **kw)
        assert v.status == "blocked" and v.reason.code == "guard-outside", v.reason
        assert v.reason.params["diverging"]


def test_verify_claim_cli_and_report_rebuild(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bbp.json").write_text(json.dumps(BBP_CONFIG.to_dict()))
    code = main(["verify", "--claim", "bbp", "--config", "bbp.json", "--N", "200", "400",
                 "--seeds", "3", "--out", "rep", "--store", "s.sqlite", "--quiet",
                 "--executor", "inline"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "bbp -- outlier location" in out
    first = json.loads((tmp_path / "rep" / "verdicts.json").read_text())
    # Seeds 0-2 at N = 200, 400.  The location's CI at N = 400 (3 seeds: t_2 = 4.3, per-seed
    # sd ~0.14) has half-width ~0.39, far wider than the 2% band (0.059): inconclusive, never
    # decided either way.  The right overlap (0.46 [0.42, 0.50] against 0.424 +- 0.015, the
    # tolerance the calibration set) and the left one (CI half-width 0.072) are too wide.
    assert [(v["subject"], v["status"]) for v in first] == [
        ("outlier location", "inconclusive"),
        ("squared overlap right vector / beta_*", "inconclusive"),
        ("squared overlap left vector / a", "inconclusive")]
    assert first[0]["reason_code"]["code"] == "limit-ci-wide"
    assert first[0]["predicted"] == pytest.approx(2.959, abs=5e-4)
    assert (tmp_path / "rep" / "tables" / "01-bbp.tex").read_text().startswith("% bbp")
    assert (tmp_path / "rep" / "figures" / "phase.png").stat().st_size > 1000
    assert "bbp: outlier location" in (tmp_path / "rep" / "report.html").read_text()
    code = main(["report", "s.sqlite", "--out", "rep2", "--format", "html"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out == (tmp_path / "rep2" / "report.html").read_text()  # html: the one document
    again = json.loads((tmp_path / "rep2" / "verdicts.json").read_text())
    assert [(v["subject"], v["status"], v["statistic"]) for v in again] == \
        [(v["subject"], v["status"], v["statistic"]) for v in first]


@pytest.mark.slow
def test_default_plan_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "--quiet"]) == 0
    assert (tmp_path / "twostep-report" / "report.md").exists()
