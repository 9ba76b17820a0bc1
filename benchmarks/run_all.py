"""Run every benchmark of this folder in turn (``make bench``), each in its own process.

Each ``bench_*.py`` prints its own figures (and may write them under ``benchmarks/out/``,
which git ignores); docs/performance.md records them with the machine they came from.
Usage: ``python benchmarks/run_all.py [NAME ...]`` (names without ``bench_`` and ``.py``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    known = {p.stem.removeprefix("bench_"): p for p in scripts}
    unknown = [name for name in argv if name not in known]
    if unknown:
        print(f"run_all: unknown benchmark(s) {', '.join(unknown)}; known: "
              f"{', '.join(known)}", file=sys.stderr)
        return 2
    chosen = [known[name] for name in argv] if argv else scripts
    failed = []
    for script in chosen:
        print(f"== {script.name}", flush=True)
        clock = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)])
        print(f"== {script.name}: exit {code} in {time.perf_counter() - clock:.0f} s", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print(f"run_all: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
