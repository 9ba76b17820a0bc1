"""The reuse figures (:mod:`twostep.compare.output.plot_claims` is the API): does step two learn
beta_*, with a reused batch against independent batches, per N, each seed faintly behind the mean.

- :func:`draw_reuse_gap` (``reuse-gap``): the squared beta_* overlap of the exact term's
  projection ``T_k^T q_{k+1}`` in both batch modes, against its null (~1/d);
- :func:`draw_reuse_learning` (``reuse-learning``): the coherent right vector's cosine with
  beta_* in units of a random direction's ``d^{-1/2}``, in both batch modes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from twostep.theory.errors import ConfigError

from ..science.claims.cosine import coherent_cosine
from .plot_canvas import config_title, set_caption, width_axis
from .plot_seeds import draw_series, exact_term, legend, need, per_seed, seeds, start

#: the colour of each batch mode, the same in both figures
MODE_COLOURS = {"reuse": "tab:red", "independent": "tab:blue"}
_SEEDS = "Points: mean over seeds with its 95% interval; faint dots: each seed."


def _modes(config: Any) -> dict[str, Any]:
    """``config`` in each batch mode (the claims' ``configs``: reuse, then independent)."""
    return {"reuse": config.replace(batch="reuse"),
            "independent": config.replace(batch="independent")}


def _title(config: Any, k: int) -> str:
    """The configuration without its batch mode (both are drawn), and the term."""
    return config_title(config).replace(f"{config.batch} batch, ", "") + f", term $k={k}$"


def _gap_term(claim: Any, config: Any) -> int:
    """The exact term ``reuse-gap`` reads: the claim's own choice (its ``term``, else the one
    the theory names), term 1 without a claim object."""
    if claim is None:
        return 1
    if getattr(claim, "term", None) is not None:
        return int(claim.term)
    return int(claim._k(config))  # the claim's rule, not repeated here


def draw_reuse_gap(results: Any, config: Any, claim: Any = None, *, ax: Any = None,
                   caption: bool = False) -> Any:
    """``reuse-gap``: the squared cosine with beta_* of ``T_k^T q_{k+1}`` per seed against N in
    both batch modes (log-log), with its null (the same projection on independent copies of a,
    ~1/d) as a grey band."""
    fig, ax, own = start(ax)
    k = _gap_term(claim, config)
    cfgs = _modes(config)
    drawn = 0
    nulls: dict[int, list[float]] = {}
    for i, (mode, cfg) in enumerate(cfgs.items()):
        data = per_seed(results, cfg, lambda m: getattr(exact_term(m, k), "beta_overlap", None))
        for N, vs in per_seed(results, cfg, lambda m: getattr(exact_term(m, k),
                                                              "null_beta_overlap", None)).items():
            nulls.setdefault(N, []).extend(vs)
        if data:
            draw_series(ax, data, MODE_COLOURS[mode], label=mode, shift=1.0 + 0.03 * (i - 0.5),
                        positive=True)
            drawn += 1
    Ns = sorted(set(results.Ns(cfgs["reuse"])) | set(results.Ns(cfgs["independent"])))
    if not drawn:
        raise ConfigError(f"no figure: the measurements have no exact term k={k} with its "
                          "beta_* overlap; rerun with terms=K")
    need(Ns, "measurements", 1)
    if nulls:
        xs = sorted(nulls)
        mean = np.array([np.mean(nulls[N]) for N in xs])
        sd = np.array([np.std(nulls[N]) for N in xs])
        ax.fill_between(xs, np.maximum(mean - sd, mean / 10), mean + sd, color="0.5",
                        alpha=0.25, lw=0, label="null (mean ± sd)")
        ax.plot(xs, mean, color="0.4", lw=0.9)
    ax.set_yscale("log")
    width_axis(ax, Ns)
    ax.set_xlabel("$N$")
    ax.set_ylabel(rf"$\cos^2(T_{k}^\top q_{k + 1}, \beta_*)$")
    ax.set_title(_title(config, k))
    ax.grid(True, which="major", alpha=0.25)
    legend(ax, own, title="batch")
    lines = [f"Squared cosine with beta_* of the exact term's projection T_{k}^T q_{k + 1} "
             "(log scale), a reused batch (red) against independent batches (blue), with its "
             "null (grey band: the same projection on independent copies of a, which falls as "
             "1/d).", _SEEDS,
             "A mode that learns beta_* keeps an overlap of order 1 (slope 0); one that does not "
             "falls to the null (slope -1): the verdict decides by the slope against -1/2 and "
             "the null at the last two converging widths."]
    set_caption(fig, lines, draw=caption)
    return fig


def _cosines(results: Any, cfg: Any, k: int) -> tuple[dict[int, list[float]],
                                                      dict[int, tuple[float, float]]]:
    """Per N: each seed's share of the cosine in units of ``d^{-1/2}`` (``Y_i sqrt(d) /
    sqrt(mean U)``, whose mean is the cosine's), and the cosine's estimate with its jackknife
    95% half-width (``coherent_cosine``, what the verdict reads), where resolved."""
    seeds: dict[int, list[float]] = {}
    est: dict[int, tuple[float, float]] = {}
    from scipy import stats as sps

    for N in results.Ns(cfg):
        ms = results.get(cfg, N)
        terms = [exact_term(m, k) for m in ms]
        if any(t is None or t.beta_component is None or t.coherent_sq is None for t in terms):
            continue
        Y = [float(t.beta_component) for t in terms]
        U = [float(t.coherent_sq) for t in terms]
        c = coherent_cosine(Y, U, N, ms[0].d)
        if c.estimate is None:
            continue
        scale = math.sqrt(np.mean(U))
        seeds[N] = [y / scale / c.bound for y in Y]
        half = float(sps.t.ppf(0.975, max(c.seeds - 1, 1))) * (c.se or 0.0) / c.bound
        est[N] = (c.estimate / c.bound, half)
    return seeds, est


def draw_reuse_learning(results: Any, config: Any, claim: Any = None, *, ax: Any = None,
                        caption: bool = False) -> Any:
    """``reuse-learning``: the cosine with beta_* of term ``k_*``'s coherent right vector, in
    units of a random direction's ``d^{-1/2}``, per batch mode against N (symlog), with the
    band ``|cos| < d^{-1/2}`` of a direction that does not carry beta_*."""
    fig, ax, own = start(ax)
    k = int(claim.top_term(config)) if claim is not None else 2
    cfgs = _modes(config)
    Ns: set[int] = set()
    for i, (mode, cfg) in enumerate(cfgs.items()):
        shares, est = _cosines(results, cfg, k)
        col, shift = MODE_COLOURS[mode], 1.0 + 0.03 * (i - 0.5)
        for N, vals in shares.items():
            seeds(ax, N * shift, vals, col)
        if est:
            xs = sorted(est)
            ax.errorbar([N * shift for N in xs], [est[N][0] for N in xs],
                        yerr=[est[N][1] for N in xs], fmt="o-", color=col, ms=4.5, capsize=2,
                        lw=1.3, label=mode, zorder=3)
        Ns |= set(results.Ns(cfg))
    if not any(ax.get_lines()):
        raise ConfigError(f"no figure: no resolved coherent cosine of term k={k} (the "
                          "measurements lack beta_component and coherent_sq, or the coherent "
                          "part is below the noise)")
    Ns_sorted = sorted(Ns)
    need(Ns_sorted, "measurements", 1)
    ax.axhspan(-1, 1, color="0.5", alpha=0.25, lw=0, label=r"$|\cos| < d^{-1/2}$")
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_yscale("symlog", linthresh=1.0)
    from matplotlib.ticker import ScalarFormatter

    plain = ScalarFormatter()
    plain.set_scientific(False)
    ax.yaxis.set_major_formatter(plain)  # 1, 10, -1 rather than 10^0, 10^1, -10^0
    width_axis(ax, Ns_sorted)
    ax.set_xlabel("$N$")
    ax.set_ylabel(rf"$\sqrt{{d}}\,\cos(v_{k}, \beta_*)$")
    ax.set_title(_title(config, k))
    ax.grid(True, which="major", alpha=0.25)
    legend(ax, own, title="batch")
    lines = [f"Cosine with beta_* of the coherent right vector v_{k} of the exact term T_{k} "
             "(mean beta_* component over sqrt(mean squared coherent strength), the statistic "
             "the verdict tests), in units of a random direction's d^(-1/2) (symlog scale), a "
             "reused batch (red) against independent batches (blue).",
             "Points: the estimate with its jackknife 95% interval; faint dots: each seed's "
             "share of it. Grey band: |cos| < d^(-1/2), where a term that does not carry beta_* "
             "stays; a carrying term's cosine tends to a constant, so it grows here as "
             "sqrt(d)."]
    set_caption(fig, lines, draw=caption)
    return fig
