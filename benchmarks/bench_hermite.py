"""Cold-start time of ``twostep hermite NAME --order 12`` for every built-in name.

Requirement (Hermite engine issue): every built-in name up to order 12 in under
5 seconds cold.  Two measurements:

- ``fresh``: one new Python process per name (``python -m twostep.compare
  hermite NAME --order 12``), wall clock including interpreter start and imports;
- ``one process``: a single new process that runs the command for every name in
  turn (imports paid once, no cache shared between names beyond that).

Usage: ``python benchmarks/bench_hermite.py [--order K] [--digits D]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

from twostep.theory.functions import BUILTINS

_ONE_PROCESS = r"""
import contextlib, io, json, sys, time
t0 = time.perf_counter()
from twostep.compare.cli import main
t_import = time.perf_counter() - t0
out = {"import": t_import}
for name in sys.argv[3:]:
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["hermite", name, "--order", sys.argv[1], "--digits", sys.argv[2]])
    assert rc == 0, (name, rc)
    out[name] = time.perf_counter() - t
out["total"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def fresh(name: str, order: int, digits: int) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "twostep.compare", "hermite", name,
                    "--order", str(order), "--digits", str(digits)],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", type=int, default=12)
    parser.add_argument("--digits", type=int, default=30)
    args = parser.parse_args()
    names = list(BUILTINS)

    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"twostep hermite NAME --order {args.order} --digits {args.digits}\n")

    times = {name: fresh(name, args.order, args.digits) for name in names}
    result = subprocess.run([sys.executable, "-c", _ONE_PROCESS, str(args.order),
                             str(args.digits), *names],
                            check=True, capture_output=True, text=True)
    shared = json.loads(result.stdout)

    print(f"{'name':10s} {'fresh process (s)':>18s} {'in one process (s)':>19s}")
    for name in names:
        print(f"{name:10s} {times[name]:18.2f} {shared[name]:19.2f}")
    print(f"{'imports':10s} {'':18s} {shared['import']:19.2f}")
    print(f"{'total':10s} {sum(times.values()):18.2f} {shared['total']:19.2f}")
    print(f"\nslowest fresh process: {max(times, key=times.get)} {max(times.values()):.2f} s "
          f"(requirement: < 5 s each)")


if __name__ == "__main__":
    main()
