"""Figures of compare.plots on synthetic Results (small Measurements, no simulation).

Amplitudes follow ``C_k N^{e_k}`` times log-normal noise; the null floors are constant with a
small spread, so the figures are drawn from data of the shape the simulations store.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from twostep.compare.output import plots  # noqa: E402
from twostep.compare.output.table import Table  # noqa: E402
from twostep.compare.science.claims import Results, Verdict  # noqa: E402
from twostep.simulate import Measurement  # noqa: E402
from twostep.theory import ModelConfig  # noqa: E402
from twostep.theory.errors import ConfigError  # noqa: E402
from twostep.theory.predict import predict  # noqa: E402

NS = [250, 500, 1000, 2000]
CFG = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.4, alpha2=0.4,
                  batch="reuse")


def _entries(pred, N, rng, *, scale=1.0, floor=0.15):
    out = []
    for t in pred.laws:
        amp = scale * 2.0 * 0.5 ** t.k * N ** t.exponent * np.exp(0.05 * rng.standard_normal())
        out.append({"k": t.k, "left_power": t.k + 1, "amplitude": float(amp),
                    "null_floor": float(floor * (1 + 0.02 * rng.standard_normal())),
                    "null_floor_sd": 0.02, "beta_overlap": 0.01})
    return out


def synthetic_results(config=CFG, Ns=NS, seeds=3, *, terms=True, residuals=None, rng_seed=0):
    """Results with ``amplitudes`` (and, with ``terms``, ``terms`` and ``series``) per cell;
    ``residuals[N]`` sets the series residual (default 0.02)."""
    rng = np.random.default_rng(rng_seed)
    pred = predict(config)
    res = Results()
    for N in Ns:
        for s in range(seeds):
            m = {"amplitudes": _entries(pred, N, rng)}
            if terms:
                m["terms"] = _entries(pred, N, rng, scale=0.9, floor=0.05)
                r = (residuals or {}).get(N, 0.02)
                m["series"] = {"residual": r, "converges": r <= 0.1}
            res.add(config, N, s, Measurement(config=config, N=N, d=N, n=N, seed=s, **m))
    return res


def synthetic_verdicts():
    statuses = ["consistent", "inconsistent", "inconclusive"]
    cfgs = [CFG, CFG.replace(alpha1=0.3, alpha2=0.45), CFG.replace(alpha1=0.2, alpha2=0.4),
            CFG.replace(alpha1=0.0, alpha2=0.2)]
    out = []
    for i, cfg in enumerate(cfgs):
        for j in range(1 + i % 3):
            out.append(Verdict(claim="growth-exponent", subject=f"term k={j} (a^{j + 1}), e_k=0",
                               status=statuses[(i + j) % 3], reason="-", evidence=Table([]),
                               config=cfg))
        out.append(Verdict(claim="outlier-count", subject="paper count", status="consistent",
                           reason="-", evidence=Table([]), config=cfg))
    return out


def synthetic_spectrum(config=CFG, N=500):
    rng = np.random.default_rng(1)
    edge = 2.0
    values = np.sort(edge * np.sqrt(rng.uniform(0, 1, N)))
    outliers = [{"value": 2.6, "term": 1}, {"value": 3.4, "term": 2}, {"value": 40.0, "term": 0}]
    return Measurement(config=config, N=N, d=N, n=N, seed=0,
                       spectra={"W2": {"values": list(values), "bulk_edge": edge,
                                       "bulk_edge_empirical": 1.98, "outliers": outliers}})


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _caption(fig):
    """The caption kept on the figure (the report writes it under the image)."""
    return plots.caption_text(fig)


@pytest.mark.slow
def test_amplitude_figure_legend_outside_and_compact(tmp_path):
    res = synthetic_results(terms=False)
    fig = plots.amplitude_figure(res, CFG, predict(CFG), tmp_path / "a.png")
    assert _is_png(tmp_path / "a.png")
    ax = fig.axes[0]
    leg = ax.get_legend()
    renderer = fig.canvas.get_renderer()
    lb, ab = leg.get_window_extent(renderer), ax.get_window_extent(renderer)
    assert lb.x0 >= ab.x1 or lb.y1 <= ab.y0 or lb.x1 <= ab.x0 or lb.y0 >= ab.y1
    K = len(predict(CFG).laws) - 1
    assert len(leg.get_texts()) <= 2 * K + 2
    assert sorted(ax.get_xticks()) == [float(n) for n in NS]
    assert "anchored" in _caption(fig) and not fig.texts  # the caption is not drawn


def test_phase_figure_marks_each_exact_point(tmp_path):
    verdicts = synthetic_verdicts()
    fig = plots.phase_figure(verdicts, tmp_path / "p.png")
    assert _is_png(tmp_path / "p.png")
    ax = fig.axes[0]
    exact = {(float(x), float(y)) for line in ax.get_lines() if line.get_gid() == "exact-point"
             for x, y in zip(line.get_xdata(), line.get_ydata())}
    for v in verdicts:
        assert (v.config.alpha1, v.config.alpha2) in exact


def test_figures_leave_the_matplotlib_backend_alone(tmp_path):
    # a notebook's backend stays as the user set it: the figures draw on their own Agg
    # canvases (the old code forced matplotlib.use("Agg", force=True) on every call)
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("pdf")
    try:
        plots.phase_figure(synthetic_verdicts(), tmp_path / "p.png")
        assert matplotlib.get_backend() == "pdf"
        assert _is_png(tmp_path / "p.png")
    finally:
        matplotlib.use(before)


@pytest.mark.parametrize("stored", [False, True])
def test_spectrum_figure_legend_off_the_bars(tmp_path, stored):
    m = synthetic_spectrum()
    fig = plots.spectrum_figure(m.to_dict() if stored else m, predict(CFG), tmp_path / "s.png")
    assert _is_png(tmp_path / "s.png")
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    assert ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1


def test_term_amplitude_figure(tmp_path):
    res = synthetic_results(residuals={250: 0.3})
    assert plots.has_terms(res, CFG)
    fig = plots.term_amplitude_figure(res, CFG, predict(CFG), tmp_path / "t.png")
    assert _is_png(tmp_path / "t.png")
    left, right = fig.axes[:2]
    assert left.get_shared_y_axes().joined(left, right)
    assert "terms undefined" in _caption(fig) and "at N = 250" in _caption(fig)


@pytest.mark.parametrize("terms", [None, ()])
def test_term_amplitude_figure_needs_terms(tmp_path, terms):
    res = synthetic_results(terms=False)
    if terms is not None:
        empty = Results()
        for N in NS:
            for s, m in zip(res.seeds(CFG, N), res.get(CFG, N)):
                empty.add(CFG, N, s, replace(m, terms=terms))
        res = empty
    assert not plots.has_terms(res, CFG)
    with pytest.raises(ConfigError, match="terms=K"):
        plots.term_amplitude_figure(res, CFG, predict(CFG), tmp_path / "t.png")
    assert not (tmp_path / "t.png").exists()


def test_report_adds_terms_figure_only_where_measured(tmp_path):
    from twostep.compare.output.report import write_report
    from twostep.compare.plans.verify import Check

    other = CFG.replace(alpha1=0.3, alpha2=0.45)
    plan = [Check("growth-exponent", CFG, tuple(NS), 3), Check("outlier-count", CFG, tuple(NS), 3),
            Check("growth-exponent", other, tuple(NS), 3)]
    results = [synthetic_results(), synthetic_results(), synthetic_results(other, terms=False)]
    out = write_report(tmp_path / "report", synthetic_verdicts(), plan=plan, results=results)
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures == ["amplitudes-01.png", "amplitudes-02.png", "claim-01-growth-exponent.png",
                       "claim-02-outlier-count.png", "claim-03-growth-exponent.png", "phase.png",
                       "terms-01.png"]   # one claim figure per (claim, config) checked
    assert "figures/terms-01.png" in (out / "report.md").read_text()


def test_term_figure_reads_the_guards_worst_seed_not_the_median(tmp_path):
    """Issue 19 §5: one seed over the tolerance at N = 500 (median 0.02, worst 0.434) makes
    the verdicts' regime guard refuse N = 500; the figure must mark it too, and its caption
    must say which residual it shows."""
    from twostep.compare.science.claims import measured_regime

    base = synthetic_results()
    res = Results()
    for N in NS:
        for s, m in zip(base.seeds(CFG, N), base.get(CFG, N)):
            if N == 500 and s == 2:
                m = replace(m, series={"residual": 0.434, "converges": False})
            res.add(CFG, N, s, m)
    assert not measured_regime(res, CFG).ok(500)
    fig = plots.term_amplitude_figure(res, CFG, predict(CFG))
    caption = _caption(fig)
    assert "terms undefined" in caption and "at N = 500" in caption
    assert "worst seed" in caption and "every N" not in caption
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert any("0.43" in label for label in labels)


def test_plots_keeps_its_names_and_draws_without_writing(tmp_path, monkeypatch):
    # plots.py writes the PNGs; the figure families (plot_amplitudes, plot_spectrum,
    # plot_phase) only draw: the names other modules import stay on compare.plots
    from twostep.compare.output.plot_phase import draw_measured_phase

    for name in ("amplitude_figure", "term_amplitude_figure", "spectrum_figure", "phase_figure",
                 "measured_phase_figure", "has_terms", "STATUS_COLOURS", "PHASE_LABELS",
                 "SERIES_RESIDUAL_LIMIT"):
        assert hasattr(plots, name), name
    monkeypatch.chdir(tmp_path)
    fig = draw_measured_phase([(0.1, 0.2, "consistent"), (0.3, 0.1, "refused")], n=10)
    assert fig.axes and not list(tmp_path.iterdir())


# -- the figure API (issue 29): Figure returned, ax= accepted, formats, mathtext, style ------

def _all_figures(ax=None, **kw):
    """Every public plot function, drawn on synthetic data (into ``ax`` when given)."""
    res = synthetic_results()
    cells = [(0.1, 0.2, "consistent"), (0.3, 0.1, "refused")]
    return {
        "amplitude_figure": lambda a: plots.amplitude_figure(res, CFG, predict(CFG), ax=a, **kw),
        "term_amplitude_figure": lambda a: plots.term_amplitude_figure(res, CFG, predict(CFG),
                                                                       ax=a, **kw),
        "spectrum_figure": lambda a: plots.spectrum_figure(synthetic_spectrum(), predict(CFG),
                                                           ax=a, **kw),
        "phase_figure": lambda a: plots.phase_figure(synthetic_verdicts(), ax=a, **kw),
        "measured_phase_figure": lambda a: plots.measured_phase_figure(cells, n=10, ax=a, **kw),
    }


@pytest.mark.parametrize("name", sorted(_all_figures()))
def test_every_plot_function_returns_a_figure_with_mathtext_labels(name):
    from matplotlib.figure import Figure

    fig = _all_figures()[name](None)
    assert isinstance(fig, Figure)
    head = _caption(fig)[:40]
    assert head and not any(head in t.get_text() for t in fig.texts)  # kept, not drawn
    labels = [t for ax in fig.axes for t in (ax.get_xlabel(), ax.get_ylabel(), ax.get_title())]
    assert any("$" in t for t in labels), labels
    assert not any(w in " ".join(labels) for w in ("alpha1", "alpha2", "||", "sigma="))
    sizes = {t.get_fontsize() for ax in fig.axes
             for t in (ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels())}
    assert min(sizes) >= 9 and max(sizes) <= 10, sizes


def test_two_plot_functions_draw_into_one_figures_axes(tmp_path):
    from twostep.compare.output.plot_canvas import new_figure

    fig = new_figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    made = _all_figures()
    assert made["amplitude_figure"](left) is fig
    assert made["measured_phase_figure"](right) is fig
    assert left.get_yscale() == "log" and left.get_lines()  # the amplitudes went left
    assert right.patches and right.get_xlabel() == r"$\alpha_1$"  # the cells went right
    assert "anchored" in _caption(fig) and "guard-blocked" in _caption(fig)
    assert _is_png(plots.save(fig, tmp_path / "both.png"))


def test_every_plot_function_accepts_ax(tmp_path):
    from twostep.compare.output.plot_canvas import new_figure

    for name, draw in _all_figures().items():
        fig = new_figure()
        ax = fig.add_subplot()
        assert draw(ax) is fig, name
        assert ax.has_data(), name


def test_amplitude_figure_draws_each_seed_behind_the_means():
    res = synthetic_results(terms=False, seeds=3)
    fig = plots.amplitude_figure(res, CFG, predict(CFG), terms=[0])
    faint = [line for line in fig.axes[0].get_lines()
             if line.get_marker() == "." and (line.get_alpha() or 1) < 0.5]
    assert len(faint) == len(NS)  # one per N, each with every seed
    assert all(len(line.get_xdata()) == 3 for line in faint)
    mean = np.mean([np.asarray(line.get_ydata()) for line in faint], axis=1)
    assert np.all(mean > 0)


@pytest.mark.parametrize("fmt,head", [("svg", b"<?xml"), ("pdf", b"%PDF-"),
                                      ("png", b"\x89PNG")])
def test_save_writes_the_format(tmp_path, fmt, head):
    fig = _all_figures()["measured_phase_figure"](None)
    path = plots.save(fig, tmp_path / "f", format=fmt)
    data = path.read_bytes()
    assert data.startswith(head)
    if fmt == "svg":
        assert b"<svg" in data[:2000]


def test_save_refuses_an_unknown_format(tmp_path):
    fig = _all_figures()["measured_phase_figure"](None)
    with pytest.raises(ConfigError, match="png, pdf, svg"):
        plots.save(fig, tmp_path / "f.jpg")
    assert not (tmp_path / "f.jpg").exists()


def test_png_is_written_at_200_dpi(tmp_path):
    from PIL import Image

    fig = _all_figures()["measured_phase_figure"](None)
    with Image.open(plots.save(fig, tmp_path / "f.png")) as im:
        dpi = im.info["dpi"]
    assert min(dpi) == pytest.approx(200, abs=0.5)  # PNG stores dots per metre, rounded


def test_style_file_and_rc_restyle_and_caption_on_request(tmp_path):
    import matplotlib

    style = tmp_path / "paper.mplstyle"
    style.write_text("axes.labelsize: 12\n")
    before = dict(matplotlib.rcParams)
    fig = _all_figures(style=style, rc={"axes.titlesize": 7})["measured_phase_figure"](None)
    ax = fig.axes[0]
    assert ax.xaxis.label.get_fontsize() == 12 and ax.title.get_fontsize() == 7
    assert dict(matplotlib.rcParams) == before  # restored
    drawn = plots.measured_phase_figure([(0.1, 0.2, "consistent")], caption=True)
    assert any("guard-blocked" in t.get_text() for t in drawn.texts)


@pytest.mark.parametrize("fmt,head", [("svg", b"<?xml"), ("pdf", b"%PDF-")])
def test_report_writes_the_figure_format(tmp_path, fmt, head):
    from twostep.compare.output.report import write_report
    from twostep.compare.plans.verify import Check

    plan = [Check("growth-exponent", CFG, tuple(NS), 3)]
    out = write_report(tmp_path / "r", synthetic_verdicts(), plan=plan,
                       results=[synthetic_results(terms=False)],
                       figure_options={"figure_format": fmt})
    figures = sorted((out / "figures").iterdir())
    assert [p.name for p in figures] == [f"amplitudes-01.{fmt}",
                                         f"claim-01-growth-exponent.{fmt}", f"phase.{fmt}"]
    assert all(p.read_bytes().startswith(head) for p in figures)
    md = (out / "report.md").read_text()
    assert f"![amplitudes](figures/amplitudes-01.{fmt})" in md
    assert "anchored at the term's mean" in md  # the caption, under the image


def test_report_refuses_a_missing_style_before_writing(tmp_path):
    from twostep.compare.output.report import write_report

    with pytest.raises(ConfigError, match="no such file"):
        write_report(tmp_path / "r", synthetic_verdicts(),
                     figure_options={"figure_style": tmp_path / "nope.mplstyle"})
    assert not (tmp_path / "r").exists()


def test_cli_report_figure_format_and_style(tmp_path, monkeypatch, capsys):
    from _cli import run_cli

    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, "sweep", "--store", "s.sqlite", "--N", "20", "40", "--seeds", "2",
                   "--executor", "inline", "--quiet", "--top", "2", "--null-draws", "1")[0] == 0
    style = tmp_path / "big.mplstyle"
    style.write_text("font.size: 10\n")
    code, _, err = run_cli(capsys, "report", "s.sqlite", "--out", "rep", "--figure-format",
                           "svg", "--figure-style", str(style))
    assert code == 0, err
    figures = sorted((tmp_path / "rep" / "figures").iterdir())
    assert figures and all(p.suffix == ".svg" and p.read_bytes().startswith(b"<?xml")
                           for p in figures)
    for command in (["report", "s.sqlite", "--out", "rep2"], ["verify", "--out", "rep2"]):
        code, _, err = run_cli(capsys, *command, "--figure-style", "missing.mplstyle")
        assert code == 2 and err.count("\n") == 1 and "no such file" in err, err
        assert not (tmp_path / "rep2").exists()


def test_the_phase_script_refuses_an_unknown_plane_before_making_a_folder(tmp_path, capsys):
    """``python -m twostep.compare.plans.phase OUT DATA PLANES``: ``--help`` and a bad plane stop in
    argparse (exit 0 and 2) before any sweep starts or any folder is made."""
    from twostep.compare.plans.phase import PLANES, main

    with pytest.raises(SystemExit) as bad:
        main([str(tmp_path / "out"), str(tmp_path / "data"), "count,bogus"])
    assert bad.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "bogus" in err and all(p in err for p in PLANES)
    with pytest.raises(SystemExit) as helped:
        main(["--help"])
    assert helped.value.code == 0
    assert not (tmp_path / "out").exists() and not any(tmp_path.iterdir())
