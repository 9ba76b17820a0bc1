"""``twostep simulate``: run the GD steps once and measure spectra and directions.

Prints a readable summary (outliers of each W_t with their identified power of a and beta_*
overlap, bulk edges, amplitudes of the last update against their null floors); ``--json``
prints the Measurement dict with the summary's amplitude ratios (:func:`json_data`), ``--out
FILE`` saves FILE (JSON) and its sibling .npz: new files, or files a twostep simulate wrote
with ``--force``; a symbolic link, a device or FIFO, or a file twostep did not write is never
replaced.  ``--out -`` writes the JSON to standard output (the summary goes to standard error).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from twostep.simulate import Measurement, draws, spectra
from twostep.simulate.options import RunOptions
from twostep.theory import ConfigError
from twostep.theory.config import number_text
from twostep.theory.errors import TwostepError
from twostep.theory.spectra import Spectrum

from ..execution.paths import (
    check_path_name,
    check_writable_folder,
    disk_full,
    parent_of,
    path_errors,
)
from ._config_args import add_config_arguments, config_from_args
from ._run_args import add_run_arguments, run_options

#: Largest --N accepted: far beyond any memory, but the estimates stay ordinary floats.
MAX_N = 10**12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, scaling_options=True)
    r = parser.add_argument_group("simulation")
    r.add_argument("--N", type=int, default=2000,
                   help="hidden width N; the spectra need min(N, d) >= --top, d = psi_d N, "
                        f"so N >= {spectra.min_width(10)} with the defaults (default: "
                        "%(default)s)")
    r.add_argument("--seed", type=int, default=0,
                   help=f"random seed, 0..{draws.MAX_SEED} (default: %(default)s)")
    r.add_argument("--steps", default=None, metavar="SPEC",
                   help="explicit step schedule, ALPHA:ETABAR:BATCH[,...] with BATCH "
                        "independent or reuse (fresh is accepted for independent), e.g. "
                        "0.3:1:independent,0.45:1:reuse; reuse reuses the previous step's "
                        "batch, step 1 must be independent. Replaces --alpha1/--alpha2/"
                        "--etabar1/--etabar2/--batch for the dynamics; steps 1 and 2 are "
                        "copied into the recorded config")
    add_run_arguments(r)
    r.add_argument("--allow-memory", action="store_true",
                   help="run even when the estimated peak memory exceeds what is available")
    r.add_argument("--block-rows", type=int, default=None,
                   help="samples per streamed block (default: about 32 MiB per block buffer)")
    o = parser.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print the Measurement as JSON")
    o.add_argument("--out", default=None, metavar="FILE",
                   help="save the Measurement to FILE (JSON) and FILE's .npz sibling, both "
                        "new (or written by twostep, with --force); - writes the JSON to "
                        "standard output and the summary to standard error")
    o.add_argument("--force", action="store_true",
                   help="with --out: replace FILE and its .npz when a twostep simulate wrote "
                        "them; any other file, a link or a device is never replaced")


def _out_path(text: str) -> Path:
    """The --out file, refused (one line) when it names a folder or nothing."""
    if not text.strip():
        raise ConfigError("--out needs a file name, got an empty string")
    check_path_name(text, f"--out {text}")
    path = Path(text)
    if path.is_dir() or path.name in ("", ".", ".."):
        raise ConfigError(f"--out {text}: {text} is a directory; give a file name "
                          f"(e.g. {os.path.join(text, 'run.json')})")
    if text.endswith(("/", os.sep)):
        # a trailing slash names a folder, and there is none: say that, not "is a directory"
        name = text.rstrip("/" + os.sep)
        raise ConfigError(f"--out {text}: a trailing / names a folder, and no folder {name} "
                          f"exists; --out takes a file name, e.g. "
                          f"{name if Path(name).suffix else name + '.json'}")
    return path


def _check_writable(path: Path, force: bool) -> None:
    """Refuse, before any simulation, an --out that cannot be written or whose writing could
    lose a file (:meth:`Measurement.check_save`)."""
    npz = Measurement.npz_path(path)
    for target in (path, npz):
        if target.is_dir() and not target.is_symlink():
            raise ConfigError(f"--out {path}: {target} is a directory; give a file name")
        check_writable_folder(parent_of(target), f"--out {path}")
    try:
        replaced = Measurement.check_save(path, force=force, force_hint="--force")
    except ConfigError as err:
        raise ConfigError(f"--out {path}: {err}") from None
    for target in replaced:
        if not os.access(target, os.W_OK):
            raise ConfigError(f"--out {path}: {target} exists and is not writable")


def _f(x, spec: str = ".4f") -> str:
    return "-" if x is None else format(x, spec)


def _outlier_lines(spec: Spectrum, max_power: int) -> list[str]:
    outliers = spec.outliers or ()
    if not outliers:
        return ["  (none)"]
    head = " ".join(f"q{m}" .rjust(5) for m in range(1, max_power + 1))
    lines = [f"  {'#':>2} {'value':>9} {'gap':>8}  {'left vector':<12} {'beta_*':>6}  "
             f"squared overlaps {head}"]
    for o in outliers:
        power = o.left_power
        ident = "none" if power is None else f"a^{power} (k={o.term})"
        overlaps = " ".join(_f(v, "5.3f") for v in o.left_overlaps or ())
        lines.append(f"  {o.index:>2} {o.value:>9.4f} {o.gap:>8.4f}  {ident:<12} "
                     f"{_f(o.right_beta_overlap, '6.3f')}  {'':>16} {overlaps}")
    return lines


def amplitude_ratio(a) -> float | None:
    """The summary's ``ratio`` of an amplitude: ``amplitude / null_floor`` (None without a
    floor)."""
    return a.amplitude / a.null_floor if a.amplitude is not None and a.null_floor else None


def json_data(m: Measurement) -> dict:
    """What ``--json`` prints: ``m.to_dict()`` and, in each ``amplitudes[]`` entry, the
    summary's ``ratio`` (:func:`amplitude_ratio`), derived, so the JSON carries every number
    the summary shows.  ``--out`` files hold ``to_dict()`` itself (the key is not a field of
    the measurement)."""
    data = m.to_dict()
    data["amplitudes"] = [{**d, "ratio": amplitude_ratio(a)}
                          for d, a in zip(data["amplitudes"], m.amplitudes)]
    return data


def render(m: Measurement) -> str:
    """The readable summary of a :class:`Measurement`."""
    c = m.config.to_dict()
    scaling = f"{m.config.scaling}, {m.config.second_layer} second layer"
    lines = [
        f"twostep simulate: sigma={c['activation']}  sigma_*={c['target']}  N={m.N} d={m.d} "
        f"n={m.n}  seed={m.seed}  {m.options.dtype}  tau={number_text(c['noise'])}  "
        f"[{scaling}]",
        "steps: " + "   ".join(
            f"{s.t}: alpha={number_text(st.alpha)} etabar={number_text(st.etabar)} "
            f"{st.batch} "
            f"(eta={s.eta:.4g}, batch {s.batch_index})"
            for s, st in zip(m.dynamics, m.provenance.steps)),
        f"bulk edge of W_0 (theory 1 + sqrt(N/d)): {m.bulk_edge:.4f};  empirical: " + ", ".join(
            f"{spec.name} {_f(spec.bulk_edge_empirical)}" for spec in m.spectra)
        + ("" if m.spectra else "no spectra measured (--spectra none)"),
        "",
    ]
    for spec in m.spectra:
        lines += _spectrum_lines(spec.name, spec, m.provenance.max_power)
    lines += [
        "",
        "new outliers of the last step (visible_new_outliers): "
        + ("not measured (needs the spectra of the last two W_t)"
           if m.visible_new_outliers is None else str(m.visible_new_outliers)),
    ]
    s = m.step_one_spike
    if s is None:
        lines.append("step one: not measured (W1's spectrum is not among --spectra)")
    else:
        lines.append(
            f"step one: top singular value of W1 {s.value:.4f}; squared overlaps of its "
            f"vectors: right-beta_* {_f(s.right_beta_overlap)}, right-u {_f(s.right_u_overlap)}, "
            f"left-a {_f(s.left_a_overlap)};  ||u|| = {s.u_norm:.4f}")
    lines += ["", f"amplitudes ||U^T q_(k+1)|| of the last update U vs null floor "
                  f"(mean +- sd over {m.options.null_draws} independent a):",
              f"  {'k':>2} {'power':>5} {'amplitude':>10} {'null floor':>18} {'ratio':>7} "
              f"{'beta_*':>7} {'null beta_*':>16}"]
    for a in m.amplitudes:
        floor = (f"{_f(a.null_floor, '.4g')} +- {_f(a.null_floor_sd, '.2g')}"
                 if a.null_floor is not None else "-")
        ratio = amplitude_ratio(a)
        nb = (f"{_f(a.null_beta_overlap, '.3f')} +- {_f(a.null_beta_overlap_sd, '.2f')}"
              if a.null_beta_overlap is not None else "-")
        lines.append(f"  {a.k:>2} {'a^' + str(a.left_power):>5} "
                     f"{_f(a.amplitude, '10.4g')} {floor:>18} {_f(ratio, '7.2f')} "
                     f"{_f(a.beta_overlap, '7.3f')} {nb:>16}")
    if m.terms:
        se = m.series
        lines += ["", f"exact terms T_k = eta_2 eta_1^k D_k of the last update (K = {se.K}): "
                      f"series residual ||U - sum T_k|| / ||U|| = {_f(se.residual, '.3g')} "
                      f"({'converges' if se.converges else 'does not converge'}: tolerance "
                      f"{se.tolerance:g}); max eta_1 |P1| = {se.p1.max:.3g}",
                  f"  {'k':>2} {'power':>5} {'||T_k||':>10} {'ratio':>7} {'amplitude':>10} "
                  f"{'null floor':>11} {'beta_*':>7} {'left-q':>7}"]
        for t in m.terms:
            ratio = se.ratios[t.k - 1] if t.k >= 1 else None
            lines.append(f"  {t.k:>2} {'a^' + str(t.left_power):>5} "
                         f"{_f(t.singular_values[0], '10.4g')} {_f(ratio, '7.3f'):>7} "
                         f"{_f(t.amplitude, '10.4g')} {_f(t.null_floor, '11.4g')} "
                         f"{_f(t.beta_overlap, '7.3f')} {_f(t.left_overlap, '7.3f')}")
    if m.features is not None:
        f = m.features
        lines += ["", f"feature matrix sigma(X W^T)/sqrt(n): F0 edge "
                      f"{_f(f.F0.bulk_edge_empirical)}, threshold {_f(f.threshold)}; "
                      f"F1 values above it {f.above_threshold}, new spikes (spike_count) "
                      f"{f.spike_count}"]
    t = m.timing
    lines += ["", f"time: draws {t.draws_s:.2f} s, steps {t.steps_s:.2f} s, spectra "
                  f"{t.spectra_s:.2f} s, total {t.total_s:.2f} s"]
    return "\n".join(lines)


def _spectrum_lines(name: str, spec: Spectrum, max_power: int) -> list[str]:
    """The outliers of one spectrum, headed by the edge they are called above."""
    what = "W_T - W_{T-1}" if name == "update" else name
    top = " ".join(f"{v:.4f}" for v in spec.singular_values[:5])
    if spec.edge_used is None:  # no outlier can be told from the bulk without an edge
        return [f"outliers of {what} (edge: not determined: {_no_edge(spec)}; top: {top})",
                "  (not called: no edge to call them above)"]
    return [f"outliers of {what} (edge used: {spec.edge_used} {_f(_edge(spec))} + margin "
            f"{_f(spec.margin)}; top: {top})", *_outlier_lines(spec, max_power)]


def _no_edge(spec: Spectrum) -> str:
    """Why a spectrum has no edge (the runner falls back to the theoretical edge, so there is
    none): the empirical fit's reason."""
    reason = (spec.edge_fit.reason if spec.edge_fit is not None else "") or "unreliable"
    return f"no theoretical edge, and the empirical fit failed ({reason})"


def _edge(spec: Spectrum) -> float | None:
    if spec.edge_used == "empirical":
        return spec.bulk_edge_empirical
    if spec.edge_used == "theory":
        return spec.bulk_edge
    return None


def _steps_text(text: str) -> str:
    """``--steps`` in the spelling of :func:`parse_steps`: the batch mode ``independent``
    (the one spelling of the config and the flags) is its ``fresh``."""
    parts = []
    for step in text.split(","):
        fields = step.split(":")
        if len(fields) == 3 and fields[2].strip() == "independent":
            fields[2] = "fresh"
        parts.append(":".join(fields))
    return ",".join(parts)


def _check_sizes(args: argparse.Namespace, config, options: RunOptions, steps) -> None:
    """What ``simulate.run`` would refuse only after its imports, refused first (one line),
    with the flags' spellings."""
    from twostep.simulate import gd, memory
    from twostep.simulate.inputs import check_inputs

    if not 2 <= args.N <= MAX_N:
        raise ConfigError(f"--N must be an integer >= 2 and <= 10^12, got {args.N}")
    draws.check_seed(args.seed, "--seed")
    d, n = draws.dimensions(config, args.N)
    spectra.check_width(args.N, d, options.top, config.psi_d, top_flag="--top")
    try:
        check_inputs(config, options, steps)
    except ConfigError as err:
        text = str(err)
        raise ConfigError("--" + text if text.startswith(("activation", "target")) else text
                          ) from None
    dtype = draws.check_dtype(options.dtype)
    rows = (gd.default_block_rows(args.N, n, dtype) if options.block_rows is None
            else min(options.block_rows, n))
    estimate = memory.estimate_peak(args.N, d, n, dtype.itemsize, block_rows=rows,
                                    top=options.top, spectrum=options.spectrum,
                                    features=options.features, terms=options.terms)
    memory.check(estimate, allow=options.allow_memory, what=f"--N {args.N} (d={d}, n={n})",
                 allow_hint="--allow-memory", dtype_hint="--dtype float32")


def simulate_run(*args, **kwargs) -> Measurement:
    """:func:`twostep.simulate.run`, imported on first use (``twostep --help`` loads no
    simulator, so no sympy)."""
    from twostep.simulate import run as simulate

    return simulate(*args, **kwargs)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    steps = None
    if args.steps is not None:
        from twostep.simulate.gd import parse_steps

        steps = parse_steps(_steps_text(args.steps))
        sync = {"alpha1": steps[0].alpha, "etabar1": steps[0].etabar}
        if len(steps) > 1:
            sync.update(alpha2=steps[1].alpha, etabar2=steps[1].etabar,
                        batch="reuse" if steps[1].batch == "reuse" else "independent")
        config = config.replace(**sync)
    options = run_options(args, allow_memory=args.allow_memory, block_rows=args.block_rows)
    _check_sizes(args, config, options, steps)
    to_stdout = args.out == "-"
    if args.force and args.out is None:
        raise ConfigError("--force goes with --out FILE (it allows replacing a file a twostep "
                          "simulate wrote)")
    if to_stdout and options.spectrum:
        raise ConfigError("--out - writes the JSON only, and the full spectra of --spectrum go "
                          "to the .npz sibling of a file: give a file name")
    out = None
    if args.out is not None and not to_stdout:
        with path_errors(f"--out {args.out}"):
            out = _out_path(args.out)
            _check_writable(out, args.force)
    try:
        measurement = simulate_run(config, args.N, args.seed, steps=steps, options=options)
    except MemoryError as err:
        raise TwostepError(f"N={args.N} ran out of memory ({_memory_text(err)}); nothing was "
                           "written: use a smaller --N or --dtype float32, or free memory "
                           "(the estimate of --allow-memory was exceeded)") from None
    if out is not None:
        with disk_full(f"--out {out}"):
            measurement.save(out, force=args.force)
    if args.json or to_stdout:  # --out -: the file's JSON; --json: with the derived ratios
        data = json_data(measurement) if args.json else measurement.to_dict()
        print(json.dumps(data, indent=1, sort_keys=True))
    if not args.json:
        print(render(measurement), file=sys.stderr if to_stdout else sys.stdout)
        if out is not None:
            print(f"saved {out} and {Measurement.npz_path(out)}")
    return 0


def _memory_text(err: MemoryError) -> str:
    text = str(err).strip()
    return text[0].lower() + text[1:] if text else "MemoryError"

