"""``twostep theory``: the predictions of the two-step theory for one configuration.

Each symbolic or numerical evaluation behind the predictions has ``--time-budget``
seconds (one line naming the one given up, exit 2); on a terminal a progress bar on
stderr counts them once the command runs for more than 2 s.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._config_args import (
    add_config_arguments,
    add_time_budget_argument,
    config_from_args,
    evaluations,
)

#: Largest width of the finite-N forecast (N^alpha and log N stay ordinary floats).
MAX_N = 10**15


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, law_option=True)
    parser.add_argument("--N", type=int, default=None,
                        help="also print the finite-N outlier forecast at this width, 2..10^15")
    add_time_budget_argument(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the Prediction as JSON (keys: docs/reference.md)")


def _fmt(x: object) -> str:
    if x is None:
        return "undefined"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def render(pred, N: int | None = None) -> str:
    """The readable table of a :class:`Prediction`."""
    from twostep.theory.config import number_text

    c = pred.config
    lines = [
        f"twostep theory: sigma={c.activation}  sigma_*={c.target}  batch={c.batch}  "
        f"alpha=({number_text(c.alpha1)}, {number_text(c.alpha2)})  psi_d={number_text(c.psi_d)} "
        f"psi_n={number_text(c.psi_n)}  etabar=({number_text(c.etabar1)}, "
        f"{number_text(c.etabar2)})  tau={number_text(c.noise)}  "
        f"[{c.scaling}, {c.second_layer} second layer]",
        "",
        f"paper count floor(alpha2/(1/2-alpha1)) = floor({pred.ratio}) = {pred.paper_count}"
        + ("   (critical: ratio is an integer)" if pred.critical else ""),
        f"activation-aware count: {_fmt(pred.aware_count)}   ({pred.aware_count_reason})",
        f"bulk edge of W_0: 1 + sqrt(N/d) = {pred.bulk_edge:.4f}",
        "",
        "| k | left vector | e_k | growth | coefficient | present | carries beta_* |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in pred.laws:
        coef = "; ".join(
            f"{d.label}={'undef' if d.value is None else format(d.value, '.4g')}"
            for d in t.coefficients)
        lines.append(f"| {t.k} | a^{t.left_power} | {t.exponent_exact} ({t.exponent:+.3f}) | "
                     f"{t.growth} | {coef} | {_fmt(t.present)} | {_fmt(t.carries_beta)} |")
    tg = pred.target
    reuse = (tg.reuse_exponent if tg.reuse_exponent is not None
             else f"none up to {tg.reuse_limit}")
    lines += [
        "",
        f"target: information exponent {_fmt(tg.information_exponent)}, reuse exponent "
        f"{reuse}, parity {tg.parity}",
        f"beta_* learned: {_fmt(pred.beta.learned)} ({pred.beta.reason})",
        f"step one: ||u|| = {pred.step_one.u_norm:.4f}, strength theta = "
        f"{pred.step_one.strength:.4f}, exponent alpha1 = {pred.step_one_exponent:g}",
    ]
    if pred.bbp is not None:
        b = pred.bbp
        lines.append(
            f"BBP (alpha1 = 0): theta = {b.theta:.4f} vs threshold {b.threshold:.4f}; "
            + (f"outlier at {b.location:.4f} (edge {b.bulk_edge:.4f}); squared overlaps "
               f"right-u {b.right_u_overlap:.4f}, left-a {b.left_a_overlap:.4f}, right-beta_* "
               f"{b.right_beta_overlap:.4f} (|cos| {b.cosine_beta:.4f})" if b.exists
               else "no outlier (below threshold)"))
    s = pred.features
    lines.append(f"one-step feature-matrix spikes (Moniri et al. 2023) at alpha1: "
                 f"{s.spike_count}" + (" (critical: interval end point)" if s.critical else ""))
    for note in pred.notes:
        lines.append(f"note: {note}")
    if N is not None:
        lines.append("")
        at = pred.at(N, ks=())  # the terms are printed below (_amplitude_lines)
        spike = at.step_one_spike
        lines.append(f"step-one spike of W_1 at N = {N}: {spike.value:.4f}"
                     + (" (BBP location)" if pred.bbp is not None else
                        " (leading order strength N^alpha1)"))
        lines.append(f"outliers of W_2 at N = {N}:")
        for o in at.outliers:
            loc = f"{o.value:.4f}" if o.value is not None else "-"
            lines.append(f"  term {o.term} (a^{o.left_power}): {loc}  {o.statement}")
        lines += _amplitude_lines(pred, N)
    return "\n".join(lines)


def term_data(pred, N: int) -> dict[str, Any] | None:
    """The finite-N step-two terms at width N, as data: what the text output prints
    (:func:`_amplitude_lines`) and what ``--json`` carries under ``outliers_at_N.terms``.

    ``terms``: ``TermAmplitude.to_dict()`` of term 0 (what ``term-amplitude`` checks; it
    merges with the step-one spike, so it has no location or crossing) and of the counted
    terms ``1..min(paper_count, 3)``, each with ``crossing`` (``Crossing.to_dict()``, None for
    term 0); ``threshold``: ``c^(1/4)``; ``visible_new_outliers``: the counted terms with a
    W_2 location; ``amplitudes_grow``: the amplitudes of the counted terms grow with k (the
    series likely diverges).  None when no term is counted (paper count 0).
    """
    amps = pred.term_amplitudes(N)
    if not amps:
        return None
    crossings = {c.k: c for c in pred.crossing_widths([a.k for a in amps])}
    zero = pred.term_amplitudes(N, [0])[0]
    terms = [{**zero.to_dict(), "crossing": None}]
    terms += [{**a.to_dict(), "crossing": crossings[a.k].to_dict()} for a in amps]
    sizes = [a.amplitude for a in amps if a.amplitude is not None]
    return {"N": N, "threshold": amps[0].threshold,
            "visible_new_outliers": sum(a.amplitude is not None and a.location is not None
                                        for a in amps),
            "amplitudes_grow": any(b > a for a, b in zip(sizes, sizes[1:])),
            "terms": terms}


def _amplitude_lines(pred, N: int, data: dict[str, Any] | None = None) -> list[str]:
    """The finite-N amplitudes, locations and crossing widths of the counted terms, and term
    0's amplitude (docs/amplitudes.md)."""
    data = term_data(pred, N) if data is None else data
    if data is None:
        return []
    lines = ["", f"step-two terms at N = {N} (finite-N amplitude ||T_k^T q_(k+1)||, spike "
                 f"strength theta_k vs c^(1/4) = {data['threshold']:.4f}, W_2 location, width "
                 "N*_k where theta_k crosses c^(1/4); docs/amplitudes.md):"]
    for a in data["terms"]:
        k, c = a["k"], a["crossing"]
        if a["amplitude"] is None:
            lines.append(f"  term {k} (a^{k + 1}): not derived ({a['reason']})")
            continue
        if c is None:  # term 0
            lines.append(f"  term {k} (a^{k + 1}): amplitude {a['amplitude']:.4g}, theta "
                         f"{a['coherent']:.4g}: merges with the step-one spike")
            continue
        loc = (f"outlier at {a['location']:.4f}" if a["location"] is not None
               else "inside the bulk")
        cross = ("-" if c["crossing_width"] is None
                 else f"{c['direction']} the outliers at N* = {c['crossing_width']:.4g}")
        lines.append(f"  term {k} (a^{k + 1}): amplitude {a['amplitude']:.4g}, theta "
                     f"{a['coherent']:.4g}: {loc}; {cross}")
    lines.append(f"  predicted visible new outliers at N = {N} (terms 1 and up shown): "
                 f"{data['visible_new_outliers']}")
    if data["amplitudes_grow"]:
        lines.append("  note: the amplitudes grow with k, so the series of exact terms likely "
                     "diverges at these step sizes and the terms do not describe W_2 there; "
                     "measure it with twostep simulate --terms K (docs/theory.md, The exact "
                     "terms)")
    return lines


def _check_finite(data: dict[str, Any]) -> None:
    """A prediction with an infinite or NaN number (the float64 moments of ``1e999*z``) is the
    numerical-error line naming the first one, not a table of ``inf``."""
    from twostep.theory.errors import NonFiniteError

    from ..execution.cell import _non_finite_path

    where = _non_finite_path(data, "prediction")
    if where is not None:
        raise NonFiniteError(f"{where} is not finite: a Gaussian moment of the activation or "
                             f"target leaves the float64 range")


def run(args: argparse.Namespace) -> int:
    from twostep.theory.errors import ConfigError
    from twostep.theory.hermite import check_time_budget
    from twostep.theory.predict import predict
    from twostep.theory.steps import check_step_sizes

    config = config_from_args(args)
    if args.N is not None and not 2 <= args.N <= MAX_N:
        raise ConfigError(f"--N must be an integer >= 2 and <= 10^15, got {args.N}")
    check_step_sizes(config, args.N)  # the one bound simulate, sweep, verify and fuzz use
    check_time_budget(args.time_budget, "--time-budget")
    with evaluations(args, "theory"):  # everything is computed before anything is printed
        pred = predict(config)
        _check_finite(pred.to_dict())
        if args.json:
            data = pred.to_dict()
            if args.N is not None:
                at = pred.at(args.N, ks=())  # the terms: term_data below
                data["outliers_at_N"] = {
                    "N": args.N,
                    "step_one_spike": at.step_one_spike.to_dict(),
                    "W1": [o.to_dict() for o in at.spectrum("W1").outliers],
                    "W2": [o.to_dict() for o in at.outliers],
                    # the finite-N terms the text output prints (None: paper count 0)
                    "terms": term_data(pred, args.N)}
            text = json.dumps(data, indent=2, sort_keys=True)
        else:
            text = render(pred, args.N)
    print(text)
    return 0
