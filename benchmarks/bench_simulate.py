"""Speed and memory of ``twostep.simulate.run`` (a script, not a test).

Measured in one run, on this machine:

1. two steps at N = n = d = 4000, float32, top-10 triplets: the time of the
   steps (and of steps + spectra) against the bare time of the four
   unavoidable GEMMs of the same shapes (``X W^T`` and ``M^T X`` per step),
   measured in the same process; goal: ratio <= 1.25 for the steps;
2. against a naive reference (every matrix materialised, float64, then
   ``np.linalg.svd`` of W_2 as notebooks do) at N = 2000 and 4000: goal >= 5x
   faster, top-10 singular values equal to 1e-4 relative;
3. peak resident memory (VmHWM of a fresh subprocess per N) at N = 4000,
   8000, 16000 in float32, against the formula of ``simulate/memory.py``;
4. growth of the time with N: fitted exponent over N = 1000..16000 and the
   successive-N slopes (reusing the timings above);
5. the whole run against its GEMM floor (issue "Reach the asymptotic regime"), at
   N = 2000 and 4000 float32 in one process: the four bare GEMMs of the run's shapes
   (``H = X W^T`` and ``G = M^T X`` per step, :mod:`twostep.simulate.gd`), the steps
   alone (``gd.trajectory``), a default ``run()`` (top = 10, terms = 0) and the naive
   notebook way (float64, full ``np.linalg.svd`` with vectors of W_2 and of the update);
   goals: run() <= 1.5x the GEMMs, steps <= 1.25x, run() >= 5x faster than naive;
6. a run costs what it measures: run() at N = 4000 float32 computing only the spectra each
   built-in claim reads (``RunOptions.spectra``), against the same GEMM floor;
7. the cells that read only the exact terms against their GEMM floor;
8. the one-spectrum cell (W_2 only, left-vectors) against its four GEMMs, ``--repeats``
   interleaved pairs in one process (goal 1.5x); with ``--baseline CHECKOUT`` the same pair
   alternates between fresh processes of an older checkout and of this one (before/after).

Usage: ``python benchmarks/bench_simulate.py [--quick] [--sections 1,2,3,4,5,6,7,8]
[--repeats R] [--baseline CHECKOUT]``
(``--quick``: small sizes, a minute). The full run takes ~15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy
from threadpoolctl import threadpool_info

from twostep.simulate import draws, gd, memory, run
from twostep.theory import ModelConfig, parse_function

CONFIG = ModelConfig(activation="tanh(z+1/2)", target="He1", alpha1=0.3, alpha2=0.45)

# Peak RSS is read as VmHWM from /proc/self/status: ru_maxrss of a child starts
# from the parent's RSS at fork time on Linux, VmHWM belongs to the new image.
_SUBPROCESS = r"""
import json, sys, time
def hwm():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
from twostep.simulate import run, memory, gd, draws
from twostep.theory import ModelConfig
base = hwm()
N = int(sys.argv[1]); dtype = sys.argv[2]
cfg = ModelConfig(activation="tanh(z+1/2)", target="He1", alpha1=0.3, alpha2=0.45)
est = memory.estimate_peak(N, N, N, 4 if dtype == "float32" else 8,
                           block_rows=gd.default_block_rows(N, N, draws.check_dtype(dtype)), top=10)
t = time.perf_counter()
m = run(cfg, N, 0, dtype=dtype)
wall = time.perf_counter() - t
peak = hwm()
print(json.dumps({"N": N, "base": base, "peak": peak, "estimate": est["total"],
                  "phase": est["largest_phase"], "timing": m.timing.to_dict(), "wall": wall,
                  "outliers": [o.value for o in m.outliers]}))
"""


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    avail = memory.available_bytes()
    lines = [
        f"machine: {platform.platform()}; {cpu}; {os.cpu_count()} CPUs; "
        f"MemAvailable {avail / 2**30:.1f} GiB" if avail else "",
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
        f"load average {os.getloadavg()[0]:.2f} at start",
        "threadpool_info():",
    ]
    for info in threadpool_info():
        lines.append("  " + json.dumps({k: info.get(k) for k in (
            "internal_api", "version", "num_threads", "architecture", "filepath")}))
    return lines


def bare_gemms(N: int, dtype: str, repeats: int = 2) -> float:
    """Best time of the four GEMMs of two steps (n = d = N): H = X W^T, G = M^T X, twice."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, N), dtype=np.float32).astype(dtype)
    W = rng.standard_normal((N, N), dtype=np.float32).astype(dtype)
    H = np.empty((N, N), dtype=dtype)
    G = np.empty((N, N), dtype=dtype)
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        for _step in range(2):
            np.matmul(X, W.T, out=H)
            np.matmul(H.T, X, out=G)
        best = min(best, time.perf_counter() - t)
    return best


def naive(config: ModelConfig, N: int, seed: int, dtype: str, *, update: bool = False
          ) -> tuple[float, np.ndarray]:
    """Notebook-style two steps: the n x N pre-activations materialised, then the SVD of W_2
    (with vectors, as needed for overlaps) and, with ``update``, of the update too. Same
    draws as ``run``."""
    t = time.perf_counter()
    dt = np.dtype(dtype)
    d, n = draws.dimensions(config, N)
    beta = draws.draw_beta(seed, N, d)
    a = draws.draw_second_layer(config, seed, N)
    W = draws.draw_first_layer(config, seed, N, d, dt)
    batch = draws.draw_batch(config, seed, N, 0, beta, dt)
    X, y = batch.X, batch.y.astype(dt)
    sigma = parse_function(config.activation)
    s0, s1 = sigma.numpy(0), sigma.numpy(1)
    for step in gd.default_steps(config):
        H = X @ W.T
        r = y - s0(H) @ a.astype(dt) / math.sqrt(N)
        G = (step.eta(N) / n) * (a.astype(dt)[:, None] * (s1(H) * r[:, None]).T) @ X
        W = W + G
    _, s, _ = np.linalg.svd(W, full_matrices=False)
    if update:
        np.linalg.svd(G, full_matrices=False)
    return time.perf_counter() - t, s[:10]


def steps_alone(N: int) -> tuple[float, float]:
    """Wall time of ``gd.trajectory`` (draws + both steps, float32) and its steps' part."""
    t = time.perf_counter()
    step_s = 0.0
    for state in gd.trajectory(CONFIG, N, 0, gd.default_steps(CONFIG), dtype="float32"):
        step_s += state.stats.get("step_s", 0.0)
    return time.perf_counter() - t, step_s


def floor_table(Ns, repeats: int) -> None:
    """Section 5: whole run() vs the four bare GEMMs, the steps and the naive way."""
    threads = [i.get("num_threads") for i in threadpool_info()]
    print(f"5. whole run vs its GEMM floor (float32; naive float64), {repeats} interleaved "
          f"repeat(s), minimum of each; BLAS threads {threads}; load average "
          f"{os.getloadavg()[0]:.2f}")
    print("| N | four GEMMs s | steps s (ratio) | trajectory s (ratio) | run() s (ratio) | "
          "spectra s | naive s | naive / run() | max rel. diff top-10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for N in Ns:
        best = {"gemm": math.inf, "traj": math.inf, "steps": math.inf, "run": math.inf,
                "naive": math.inf, "spectra": math.inf}
        diff = math.nan
        for _ in range(repeats):
            best["gemm"] = min(best["gemm"], bare_gemms(N, "float32", repeats=1))
            traj, steps = steps_alone(N)
            best["traj"], best["steps"] = min(best["traj"], traj), min(best["steps"], steps)
            m = run(CONFIG, N, 0, dtype="float32", top=10, terms=0)
            best["run"] = min(best["run"], m.timing.total_s)
            best["spectra"] = min(best["spectra"], m.timing.spectra_s)
            t_naive, s_naive = naive(CONFIG, N, 0, "float64", update=True)
            best["naive"] = min(best["naive"], t_naive)
            ours = np.array(m.spectrum("W2").singular_values)
            diff = float(np.max(np.abs(ours - s_naive) / s_naive))
        g = best["gemm"]
        print(f"| {N} | {g:.2f} | {best['steps']:.2f} ({best['steps'] / g:.2f}) | "
              f"{best['traj']:.2f} ({best['traj'] / g:.2f}) | {best['run']:.2f} "
              f"({best['run'] / g:.2f}) | {best['spectra']:.2f} | {best['naive']:.1f} | "
              f"{best['naive'] / best['run']:.1f}x | {diff:.1e} |", flush=True)
    print(f"(goals: run() <= 1.5x and steps <= 1.25x the four GEMMs at N = 4000; naive / run() "
          f">= 5x; load average now {os.getloadavg()[0]:.2f})\n")


#: The spectra the built-in claims read (compare/claims: ``Claim.spectra``).
DECLARED = (("all (the default run)", "all"), ("W1, W2 (outlier-count, outlier-locations)",
             ("W1", "W2")), ("W2 (left-vectors)", ("W2",)), ("W1 (bbp)", ("W1",)),
            ("none (exponents, amplitudes, reuse-gap)", ()))


def declared_table(N: int, repeats: int) -> None:
    """Section 6: run() computing only the spectra a claim reads, against the GEMM floor."""
    print(f"6. a run costs what it measures: run() at N = {N}, float32, by declared spectra "
          f"(terms = 0), {repeats} repeat(s), minimum; load average {os.getloadavg()[0]:.2f}")
    print("| spectra | run() s | of which spectra s | run() / four GEMMs |")
    print("|---|---|---|---|")
    gemm = min(bare_gemms(N, "float32", repeats=1) for _ in range(repeats))
    for label, spectra in DECLARED:
        times = [run(CONFIG, N, 0, dtype="float32", spectra=spectra).timing
                 for _ in range(repeats)]
        best = min(times, key=lambda t: t.total_s)
        print(f"| {label} | {best.total_s:.2f} | {best.spectra_s:.2f} | "
              f"{best.total_s / gemm:.2f} |", flush=True)
    print(f"(four GEMMs {gemm:.2f} s; load average now {os.getloadavg()[0]:.2f})\n")


#: The cells of the coherent rule (term-exponent, outlier-count with visible=False, the power
#: pilot and the count plane's base sweep): exact terms only.
TERMS_CELL = {"dtype": "float32", "spectra": (), "null_draws": 0}


def terms_table(N: int, K: int, repeats: int) -> None:
    """Section 7: a cell that reads only the exact terms against its GEMM floor.

    The floor: the two steps' four GEMMs, plus the term pass's ``2 + (K + 1)`` products of the
    same shape (pre-activations ``X W_1^T`` and ``X (W_1 - W_0)^T`` per block, one ``X^T M_k``
    per term): ``(4 + 2 + K + 1) / 4`` times the four bare GEMMs."""
    print(f"7. exact-terms cells: run() at N = {N}, float32, spectra none, terms = {K}, "
          f"null_draws 0, {repeats} repeat(s), minimum; load average {os.getloadavg()[0]:.2f}")
    gemm = min(bare_gemms(N, "float32", repeats=1) for _ in range(repeats))
    floor = gemm * (4 + 2 + K + 1) / 4
    times = [run(CONFIG, N, 0, terms=K, **TERMS_CELL).timing for _ in range(repeats)]
    best = min(times, key=lambda t: t.total_s)
    print("| part | s | of the floor |")
    print("|---|---|---|")
    for name in ("draws_s", "steps_s", "terms_s", "total_s"):
        print(f"| {name[:-2]} | {getattr(best, name):.2f} | {getattr(best, name) / floor:.2f} |")
    print(f"(GEMM floor {floor:.2f} s = {(4 + 2 + K + 1) / 4:.2f} x four GEMMs of {gemm:.2f} s; "
          f"terms includes the per-term top singular values and the series residual; load "
          f"average now {os.getloadavg()[0]:.2f})\n")


#: The one-spectrum cell of section 8: a run reading W_2's spectrum only (left-vectors).
ONE_SPECTRUM = ("W2",)


def cell_once(N: int) -> dict:
    """One interleaved pair of section 8: the four bare GEMMs, then ``run()`` reading W_2 only
    (float32, default options otherwise)."""
    gemm = bare_gemms(N, "float32", repeats=1)
    timing = run(CONFIG, N, 0, dtype="float32", spectra=ONE_SPECTRUM).timing
    # a record here, a dict in a checkout before 0.4 (the comparison's child process)
    seconds = (lambda name: timing[name]) if isinstance(timing, dict) else (
        lambda name: getattr(timing, name))
    return {"gemm": gemm, "run": seconds("total_s"), "draws": seconds("draws_s"),
            "steps": seconds("steps_s"), "spectrum": seconds("spectra_s")}


def _checkout_path(checkout: Path, scratch: Path) -> str:
    """A PYTHONPATH entry that imports ``checkout``'s folders as ``twostep``."""
    package = scratch / checkout.name.replace(os.sep, "_") / "twostep"
    package.mkdir(parents=True, exist_ok=True)
    for part in ("theory", "simulate", "compare"):
        link = package / part
        if not link.exists():
            link.symlink_to(checkout / part)
    return str(package.parent)


def _child_cells(checkout: Path, scratch: Path, N: int) -> dict:
    """``cell_once`` in a fresh process importing ``checkout`` (after a small warm-up run that
    loads what a first run loads)."""
    env = {**os.environ, "PYTHONPATH": _checkout_path(checkout, scratch)}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--cell-child",
                          str(N)], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cell_table(N: int, repeats: int, baseline: str | None) -> None:
    """Section 8: the one-spectrum cell (W_2 only) against its four GEMMs, minimum of
    ``repeats`` interleaved pairs in this process; with ``baseline`` (a checkout, e.g. a git
    worktree of an older commit) the same pair runs in fresh processes alternating between
    the baseline and this checkout, each ratio from the minima of its own processes."""
    print(f"8. the one-spectrum cell: run() at N = {N}, float32, spectra {ONE_SPECTRUM}, "
          f"{repeats} interleaved repeat(s), minimum of each; load average "
          f"{os.getloadavg()[0]:.2f}")
    here = Path(__file__).resolve().parent.parent
    trials: dict[str, list[dict]] = {}
    if baseline is None:
        cell_once(min(N, 300))  # warm-up: imports and parsing, as a first run pays them
        trials["this checkout"] = [cell_once(N) for _ in range(repeats)]
    else:
        with tempfile.TemporaryDirectory() as scratch:
            for _ in range(repeats):
                for label, checkout in ((f"baseline {baseline}", Path(baseline).resolve()),
                                        ("this checkout", here)):
                    trials.setdefault(label, []).append(
                        _child_cells(checkout, Path(scratch), N))
    print("| code | four GEMMs s | run() s | run() / four GEMMs | draws s | steps s | "
          "spectrum s | ratios of the repeats |")
    print("|---|---|---|---|---|---|---|---|")
    for label, rows in trials.items():
        best = {key: min(row[key] for row in rows) for key in rows[0]}
        each = ", ".join(f"{row['run'] / row['gemm']:.2f}" for row in rows)
        print(f"| {label} | {best['gemm']:.2f} | {best['run']:.2f} | "
              f"**{best['run'] / best['gemm']:.2f}** | {best['draws']:.2f} | "
              f"{best['steps']:.2f} | {best['spectrum']:.2f} | {each} |", flush=True)
    print(f"(goal: <= 1.5; load average now {os.getloadavg()[0]:.2f})\n")


def best_run(N: int, dtype: str, repeats: int):
    best = None
    for _ in range(repeats):
        m = run(CONFIG, N, 0, dtype=dtype)
        if best is None or m.timing.total_s < best.timing.total_s:
            best = m
    return best


def same_work(m) -> float:
    """Draws + steps + W_2's top triplets: what the naive reference computes."""
    return m.timing.draws_s + m.timing.steps_s + m.timing.spectrum("W2")


def subprocess_peak(N: int, dtype: str = "float32") -> dict:
    out = subprocess.run([sys.executable, "-c", _SUBPROCESS, str(N), dtype], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def slope(Ns, times) -> float:
    return float(np.polyfit(np.log(Ns), np.log(times), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--sections", default="1,2,3,4,5,6,7,8",
                        help="which measurements to run, e.g. 1,2 (default: all)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="interleaved repeats of sections 5-8 (default 2)")
    parser.add_argument("--baseline", metavar="CHECKOUT",
                        help="section 8 also on this checkout of twostep (e.g. `git worktree "
                             "add /tmp/old COMMIT`), alternating fresh processes")
    parser.add_argument("--cell-child", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline and not all((Path(args.baseline) / part).is_dir()
                                 for part in ("theory", "simulate", "compare")):
        parser.error(f"--baseline {args.baseline}: not a checkout of twostep (no theory/, "
                     "simulate/ and compare/ folders)")
    if args.cell_child:  # one pair of section 8 in this process, as JSON (--baseline)
        cell_once(min(args.cell_child, 300))
        print(json.dumps(cell_once(args.cell_child)))
        return
    quick = args.quick
    sections = {int(x) for x in args.sections.split(",") if x.strip()}
    N_gemm = 1000 if quick else 4000
    naive_Ns = (500, 1000) if quick else (2000, 4000)
    memory_Ns = (1000, 2000) if quick else (4000, 8000, 16000)
    growth_in_process = (250, 500) if quick else (1000, 2000)

    for line in machine():
        print(line, flush=True)
    print(f"config: {CONFIG.to_json()}\n", flush=True)

    timings: dict[int, float] = {}
    steps_timings: dict[int, float] = {}
    if 1 in sections:
        # 1. steps vs the bare GEMMs -------------------------------------------------------
        # Interleaved and repeated, each quantity its minimum: the machine may be shared, and
        # a minimum is the least disturbed measurement of either.
        gemm, t, m = math.inf, None, None
        for _ in range(3):
            gemm = min(gemm, bare_gemms(N_gemm, "float32", repeats=1))
            trial = run(CONFIG, N_gemm, 0, dtype="float32")
            if m is None:
                m, t = trial, dict(trial.timing)
            else:
                for key in ("draws_s", "steps_s", "spectra_s", "total_s"):
                    t[key] = min(t[key], trial.timing[key])
        print(f"1. two steps at N = n = d = {N_gemm}, float32 (3 interleaved repeats, minimum of "
              "each quantity)")
        print("| quantity | seconds | ratio to bare GEMMs | goal |")
        print("|---|---|---|---|")
        print(f"| four bare GEMMs (numpy matmul, same shapes) | {gemm:.3f} | 1 | |")
        gflops = 4 * 2 * N_gemm**3 / gemm / 1e9
        print(f"| (bare GEMM rate: {gflops:.0f} GFLOP/s) | | | |")
        rows = [("steps (gradient passes)", t["steps_s"], "<= 1.25"),
                ("steps + batch draws", t["steps_s"] + t["draws_s"], ""),
                ("steps + spectra (W1, W2, update; top-10 + 20)",
                 t["steps_s"] + t["spectra_s"], ""),
                ("whole run()", t["total_s"], "")]
        for label, seconds, goal in rows:
            print(f"| {label} | {seconds:.3f} | {seconds / gemm:.3f} | {goal} |")
        print(flush=True)
        timings[N_gemm] = t["total_s"]
        steps_timings[N_gemm] = t["steps_s"]

    if 2 in sections:
        # 2. against the naive reference ---------------------------------------------------------
        print("2. against a naive notebook reference (float64, np.linalg.svd of W_2 with vectors;")
        print("   best of 2 interleaved repeats each);")
        print("   run() also computes W_1's and the update's spectra and the null floors, so the")
        print("   same-work time (draws + steps + W_2's top triplets) is shown too")
        print("| N | naive s | run() f64 s | speed-up | same work f64 s | speed-up | run() f32 s | "
              "speed-up | same work f32 s | speed-up | max rel. diff top-10 (f64, f32) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for N in naive_Ns:
            # two interleaved repeats, each side its faster one
            t_naive, s_naive = naive(CONFIG, N, 0, "float64")
            m64 = run(CONFIG, N, 0, dtype="float64")
            m32 = run(CONFIG, N, 0, dtype="float32")
            t_naive = min(t_naive, naive(CONFIG, N, 0, "float64")[0])
            m64 = min(m64, run(CONFIG, N, 0, dtype="float64"), key=lambda x: x.timing["total_s"])
            m32 = min(m32, run(CONFIG, N, 0, dtype="float32"), key=lambda x: x.timing["total_s"])
            d64 = np.max(np.abs(np.array(m64.spectrum("W2").singular_values) - s_naive) / s_naive)
            d32 = np.max(np.abs(np.array(m32.spectrum("W2").singular_values) - s_naive) / s_naive)
            cells = []
            for mm in (m64, m32):
                same = same_work(mm)
                total = mm.timing["total_s"]
                cells.append(f"{total:.2f} | {t_naive / total:.1f}x | "
                             f"{same:.2f} | {t_naive / same:.1f}x")
            print(f"| {N} | {t_naive:.2f} | {cells[0]} | {cells[1]} | {d64:.1e}, {d32:.1e} |",
                  flush=True)
        print("(goal: >= 5x faster, top-10 equal to 1e-4 relative)\n")

    if 4 in sections:
        # 4 (part). growth, small sizes in process ------------------------------------------------
        for N in growth_in_process:
            mm = best_run(N, "float32", 1)
            timings[N] = mm.timing["total_s"]
            steps_timings[N] = mm.timing["steps_s"]

    if 3 in sections:
        # 3. peak memory ------------------------------------------------------------------------
        print("3. peak resident memory, float32, fresh subprocess per N (VmHWM)")
        print("| N | measured GiB | formula GiB | measured / formula | interpreter after imports "
              "GiB | largest phase | run() s |")
        print("|---|---|---|---|---|---|---|")
        for N in memory_Ns:
            r = subprocess_peak(N)
            print(f"| {N} | {r['peak'] / 2**30:.3f} | {r['estimate'] / 2**30:.3f} | "
                  f"{r['peak'] / r['estimate']:.2f} | {r['base'] / 2**30:.3f} | {r['phase']} | "
                  f"{r['wall']:.1f} |", flush=True)
            timings.setdefault(N, r["timing"]["total_s"])
            steps_timings.setdefault(N, r["timing"]["steps_s"])
        print()

    if 5 in sections:
        floor_table((500, 1000) if quick else (2000, 4000), max(1, args.repeats))

    if 6 in sections:
        declared_table(1000 if quick else 4000, max(1, args.repeats))

    if 7 in sections:
        for N in ((500, 1000) if quick else (2000, 4000)):
            terms_table(N, 3, max(1, args.repeats))

    if 8 in sections:
        cell_table(1000 if quick else 4000, max(1, args.repeats), args.baseline)

    if 4 in sections and len(timings) > 1:
        # 4. growth ---------------------------------------------------------------------------
        Ns = sorted(timings)
        print("4. time against N (float32, two steps, default options)")
        print("| N | run() s | steps s | local slope run() | local slope steps |")
        print("|---|---|---|---|---|")
        for i, N in enumerate(Ns):
            local = local_steps = ""
            if i:
                P = Ns[i - 1]
                ratio = math.log(N / P)
                local = f"{math.log(timings[N] / timings[P]) / ratio:.2f}"
                local_steps = f"{math.log(steps_timings[N] / steps_timings[P]) / ratio:.2f}"
            print(f"| {N} | {timings[N]:.2f} | {steps_timings[N]:.2f} | {local} | {local_steps} |")
        total_slope = slope(Ns, [timings[N] for N in Ns])
        steps_slope = slope(Ns, [steps_timings[N] for N in Ns])
        print(f"fitted exponent over N = {Ns[0]}..{Ns[-1]}: run() {total_slope:.2f}, "
              f"steps {steps_slope:.2f} (GEMM cost is N^3)")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
