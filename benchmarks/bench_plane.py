"""Benchmark: the measured phase plane from one base sweep vs independent N sweeps.

The 20 x 20 (alpha1, alpha2) plane of the outlier-count claim (compare/plans/phase.py) at N = 250,
500, 1000, 2000, 4 seeds, 2 worker processes: one base sweep + one rescaled evaluation per grid
point, against 400 ordinary N sweeps estimated from one (``verify.check`` of the claim at alpha
= (0.3, 0.45) with its own run options, timed, times 400). Then the reuse-learning planes (He3,
both batch modes from one base sweep per mode), and a spot check: one grid point of the count
plane rerun directly with the core's run options, whose verdicts must equal the plane's.

    .venv/bin/python benchmarks/bench_plane.py OUT_DIR [FIG_DIR]

writes OUT_DIR/bench-plane.json (timings, label counts, the spot check) and, with FIG_DIR, the
figures FIG_DIR/phase-count.png and phase-learning-He3-{reuse,independent}.png.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

from twostep.compare.output.plots import measured_phase_figure
from twostep.compare.plans import phase
from twostep.compare.plans.core import classify
from twostep.compare.plans.verify import check

JOBS = 2


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-plane")
    figs = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"machine": {"cores_used": JOBS, "cpu_count": os.cpu_count(),
                                "platform": platform.platform(),
                                "python": platform.python_version(),
                                "loadavg_start": os.getloadavg()}}
    Ns, seeds = phase.PLANE_NS, 4

    planes = {}

    def made(name, make):
        store = out / f"phase-{name}.sqlite"
        if store.exists():
            store.unlink()
        t = time.perf_counter()
        result = make(Ns=Ns, seeds=seeds, store=store, jobs=JOBS)
        return result, time.perf_counter() - t

    count, count_s = made("count", phase.count_plane)
    learning, learning_s = made("learning-He3", phase.learning_planes)
    for name, plane, wall in [("count", count, count_s)] + [
            (f"learning-He3-{mode}", p, learning_s) for mode, p in learning.items()]:
        planes[name] = plane
        report[name] = {**plane.to_dict(), "wall_s": wall}
        (out / f"phase-{name}.json").write_text(json.dumps(plane.to_dict(), indent=1))
        print(name, plane.counts(), f"{wall:.0f} s", plane.timing, flush=True)
        if figs is not None:
            label = ("outlier-count (activation-aware count)" if name == "count"
                     else "reuse-learning")
            measured_phase_figure(plane.cells, figs / f"phase-{name}.png", title=(
                f"{label}: measured verdicts, {plane.base.activation} / {plane.base.target}, "
                f"{plane.base.batch} batch, etabar1 = {plane.base.etabar1:g}"), n=plane.n,
                note=(f"N = {', '.join(map(str, Ns))}, {seeds} seeds. One base sweep at "
                      f"alpha1 = {plane.base.alpha1:g} ({plane.timing['sweep_s']:.0f} s on "
                      f"{JOBS} cores) + {plane.timing['configs']} rescaled evaluations "
                      f"({plane.timing['evaluate_s']:.0f} s)."))

    # one ordinary N sweep of one pair, with the claim's own run options
    pair = phase.COUNT_BASE.replace(alpha1=0.3, alpha2=0.45)
    t = time.perf_counter()
    check("outlier-count", pair, Ns, seeds, executor="process", jobs=JOBS)
    one = time.perf_counter() - t
    report["one_sweep"] = {"config": pair.to_dict(), "wall_s": one,
                           "estimate_400_s": 400 * one}
    print(f"one ordinary N sweep: {one:.0f} s -> 400 sweeps ~ {400 * one:.0f} s", flush=True)

    # spot check: a grid point whose eta1 is below the base's (carried residual), run directly
    plane = planes["count"]
    point = next(c for c in plane.core.configs if c.alpha1 < 0.25 and c.alpha2 > 0.3)
    t = time.perf_counter()
    direct = check("outlier-count", point, Ns, seeds, executor="process", jobs=JOBS,
                   **plane.core.options)
    spot = time.perf_counter() - t
    core_v = plane.core.of(point)
    same = [a.status == b.status for a, b in zip(core_v, direct)]
    report["spot_check"] = {
        "config": point.to_dict(), "wall_s": spot,
        "core": [v.status for v in core_v], "direct": [v.status for v in direct],
        "equal": all(same),
        "label": classify(core_v, plane.core.blocked[point.key()], False, "activation-aware")}
    print("spot check", report["spot_check"], flush=True)
    report["machine"]["loadavg_end"] = os.getloadavg()
    (out / "bench-plane.json").write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
