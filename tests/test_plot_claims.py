"""The figure of every built-in claim (compare/output/plot_claims.py) on small planted Results: no
simulation, Measurements built from the prediction with a little log-normal noise, on a
polynomial activation whose prediction is quick (about a second).

Each figure returns a matplotlib Figure, draws into an Axes passed as ``ax=``, keeps a caption,
and plots what was planted (checked against values computed here from the planted data).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from twostep.compare.output import plots  # noqa: E402
from twostep.compare.output.plot_canvas import caption_text, new_figure  # noqa: E402
from twostep.compare.output.plot_claims import CLAIM_FIGURES  # noqa: E402
from twostep.compare.science.claims import BUILTIN_CLAIMS, Results, get_claim  # noqa: E402
from twostep.simulate import Measurement  # noqa: E402
from twostep.theory import ModelConfig  # noqa: E402
from twostep.theory.errors import ConfigError  # noqa: E402
from twostep.theory.predict import predict  # noqa: E402

NS = [200, 400, 800]
SEEDS = 3
CFG = ModelConfig(activation="z + z**2/2", target="He2", alpha1=0.3, alpha2=0.45,
                  batch="reuse")
#: the planted ratio of every measured amplitude to its finite-N prediction
RATIO = 1.1


def _measurement(cfg, N, seed, rng):
    """One planted measurement: what every claim figure reads."""
    pred = predict(cfg)
    noise = lambda: float(np.exp(0.03 * rng.standard_normal()))  # noqa: E731
    laws = [t for t in pred.laws if t.k <= 3]
    amps = [{"k": t.k, "left_power": t.k + 1, "amplitude": 3.0 * N ** t.exponent,
             "null_floor": 0.1, "null_floor_sd": 0.01} for t in laws]
    at = pred.at(N, ks=[1])
    predicted = {t.k: t for t in at.terms}
    terms = []
    for t in laws:
        amp = predicted[t.k].amplitude if t.k in predicted else 2.0 * N ** t.exponent
        carries = cfg.batch == "reuse"
        terms.append({"k": t.k, "left_power": t.k + 1, "amplitude": RATIO * amp * noise(),
                      "null_floor": 0.05, "beta_overlap": (0.3 if carries else 1 / N) * noise(),
                      "null_beta_overlap": 1 / N * noise(),
                      "coherent_sq": (N ** t.exponent) ** 2 * noise(),
                      "beta_component": (0.5 if carries else 0.0) * N ** t.exponent * noise()
                      + 0.01 * rng.standard_normal(),
                      "left_weight": 1.0})
    locs = {a.k: a.location for a in pred.term_amplitudes(N, [1])}
    outliers = [{"value": loc * noise(), "term": k, "left_overlaps": [0.1, 0.8 * noise()]}
                for k, loc in locs.items() if loc is not None]
    spike = pred.at(N, ks=()).step_one_spike
    return Measurement(
        config=cfg, N=N, d=N, n=N, seed=seed, amplitudes=amps, terms=terms,
        series={"residual": 0.02, "converges": True}, outliers=outliers,
        bulk_edge_empirical=2.0 * noise(), visible_new_outliers=len(outliers),
        step_one_spike={"value": spike.value * noise(),
                        "right_beta_overlap": spike.right_beta_overlap,
                        "left_a_overlap": spike.left_a_overlap},
        features={"spike_count": pred.features.spike_count + (seed == 0)})


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(7)
    res = Results()
    for cfg in (CFG, CFG.replace(batch="independent"), CFG.replace(alpha1=0.0)):
        for N in NS:
            for s in range(SEEDS):
                res.add(cfg, N, s, _measurement(cfg, N, s, rng))
    return res


def test_every_builtin_claim_has_a_figure():
    assert set(BUILTIN_CLAIMS) <= set(CLAIM_FIGURES)
    assert all(callable(f) for f in CLAIM_FIGURES.values())


@pytest.mark.parametrize("name", sorted(CLAIM_FIGURES))
def test_claim_figure_returns_a_figure_and_takes_ax(planted, name):
    draw = CLAIM_FIGURES[name]
    with plots.figure_context():
        fig = draw(planted, CFG, get_claim(name))
        assert isinstance(fig, Figure)
        assert fig.axes and any(a.lines or a.collections for a in fig.axes)
        assert len(caption_text(fig)) > 40
        own = new_figure(figsize=(4, 3))
        ax = own.add_subplot()
        got = draw(planted, CFG, get_claim(name), ax=ax)
        assert got is own and own.axes == [ax]   # drawn into the caller's axes, no other
        assert ax.lines or ax.collections


def _mean_line(ax):
    """The y values of each mean line (the series with markers, drawn over the seeds)."""
    return [np.asarray(ln.get_ydata(), float) for ln in ax.lines
            if ln.get_marker() == "o" and ln.get_linestyle() == "-"]


def test_growth_collapse_is_flat_on_planted_exponents(planted):
    """Amplitudes planted exactly as 3 N^{e_k}, floors 0.1: N^{-e_k} sqrt(A^2 - F^2) over its
    value at the largest N, computed here, is what the figure draws (close to 1)."""
    fig = CLAIM_FIGURES["growth-exponent"](planted, CFG, get_claim("growth-exponent"))
    pred = predict(CFG)
    ks = [t.k for t in pred.laws if t.present and t.growth != "vanishing"]
    lines = _mean_line(fig.axes[0])
    assert len(lines) == len(ks)
    for k, y in zip(ks, lines):
        e = pred.law(k).exponent
        want = np.array([math.sqrt((3 * N ** e) ** 2 - 0.1 ** 2) * N ** -e for N in NS])
        # float64 arithmetic on a few numbers: agreement to ~1e-12 relative
        np.testing.assert_allclose(y, want / want[-1], rtol=1e-12)


def test_amplitude_ratio_shows_the_planted_ratio(planted):
    """Exact terms planted at RATIO times their prediction, with 3% log-normal noise over 3
    seeds: each mean ratio lies within 0.1 of RATIO (> 5 standard errors of the mean)."""
    fig = CLAIM_FIGURES["term-amplitude"](planted, CFG, get_claim("term-amplitude").__class__(
        terms=(1,)))
    (y,) = _mean_line(fig.axes[0])
    assert np.all(np.abs(y - RATIO) < 0.1)


def test_location_forecast_is_the_theory_forecast(planted):
    """The dashed forecast of term 1 passes through ``term_amplitudes(N).location`` at each
    measured N (the numbers ``twostep theory --N`` prints)."""
    fig = CLAIM_FIGURES["outlier-locations"](planted, CFG, get_claim("outlier-locations"))
    dashed = [ln for ln in fig.axes[0].lines if ln.get_linestyle() == "--"]
    x, y = (np.asarray(v, float) for v in dashed[0].get_data())
    pred = predict(CFG)
    for N in NS:
        want = pred.term_amplitudes(N, [1])[0].location
        assert y[list(x).index(N)] == pytest.approx(want, rel=1e-12)


def test_reuse_gap_separates_the_modes(planted):
    """Reuse planted at overlap 0.3, independent at 1/N: the red (reuse) means stay above the
    blue ones by more than 10x at every N."""
    fig = CLAIM_FIGURES["reuse-gap"](planted, CFG, get_claim("reuse-gap"))
    reuse, independent = _mean_line(fig.axes[0])
    assert np.all(reuse > 10 * independent)


def test_claim_figure_entry_writes_a_file_and_refuses_unknown(planted, tmp_path):
    path = tmp_path / "bbp.pdf"
    fig = plots.claim_figure("bbp", planted, CFG, get_claim("bbp"), path)
    assert isinstance(fig, Figure) and path.read_bytes()[:4] == b"%PDF"
    with pytest.raises(ConfigError, match="has no figure; figures exist for: growth-exponent"):
        plots.claim_figure("no-such-claim", planted, CFG)


def test_a_figure_without_its_data_is_refused_in_one_line():
    res = Results()
    res.add(CFG, 200, 0, Measurement(config=CFG, N=200, d=200, n=200, seed=0))
    with pytest.raises(ConfigError, match="no figure"):
        CLAIM_FIGURES["growth-exponent"](res, CFG)


def test_report_draws_the_figure_of_every_claim_checked(planted, tmp_path):
    """A report of the ten built-in claims on the planted data has one figure per claim, with
    its caption under the image in report.md; a check whose data cannot support its figure
    gets one line saying why, and no file."""
    from twostep.compare.output.report import write_report
    from twostep.compare.plans.verify import Check

    names = list(CLAIM_FIGURES)
    plan = [Check(name, CFG, tuple(NS), SEEDS) for name in names]
    bare = Results()
    other = CFG.replace(alpha2=0.4)
    for N in NS:
        bare.add(other, N, 0, Measurement(config=other, N=N, d=N, n=N, seed=0))
    plan.append(Check("one-step-spikes", other, tuple(NS), 1))
    out = write_report(tmp_path / "r", [], plan=plan, results=[planted] * len(names) + [bare])
    figures = sorted(p.name for p in (out / "figures").glob("claim-*"))  # beside amplitudes-*
    assert figures == [f"claim-{i:02d}-{name}.png" for i, name in enumerate(names, 1)]
    md = (out / "report.md").read_text()
    for i, name in enumerate(names, 1):
        image = f"![{name}](figures/claim-{i:02d}-{name}.png)"
        assert image in md
        caption = md.split(image, 1)[1].split("\n\n", 2)[1]
        assert f": {name}, " in caption and len(caption) > 100
    assert "Feature-matrix spikes against N: one-step-spikes" in md
    assert "No figure: the measurements have feature-matrix spike counts at 0 width(s)" in md


def test_plain_log_ticks_label_each_tick_at_its_own_precision():
    """A log axis from 0.001 to 20 reads 0.001, 0.01, 0.1, 1, 10: no label rounded to the
    axis' common decimals (a ScalarFormatter printed 0.001 as "0.00")."""
    import matplotlib.pyplot as plt

    from twostep.compare.output.plot_seeds import plain_log_ticks

    fig, ax = plt.subplots()
    ax.set_yscale("log")
    ax.plot([1, 2], [1e-3, 20])
    ax.set_ylim(1e-3, 20)
    plain_log_ticks(ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    plt.close(fig)
    assert {"0.001", "0.01", "0.1", "1", "10"} <= set(labels), labels
