"""``twostep fuzz --claim C``: hypothesis over (alpha1, alpha2) for one claim.

Prints the count of each verdict; on an ``inconsistent`` verdict, the simplest failing point
(after shrinking) and the exact command that reproduces it, and exits 1.
"""

from __future__ import annotations

import argparse
import sys

from twostep.theory.config import ModelConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--claim", required=True, metavar="C", help="the claim to fuzz")
    parser.add_argument("--config", metavar="FILE.json",
                        help="base config (activation, target, batch, ...); alphas are drawn")
    parser.add_argument("--examples", type=int, default=10,
                        help="examples to draw (default: %(default)s)")
    parser.add_argument("--N", nargs="+", type=int, default=[200, 400, 800], metavar="N",
                        help="widths of each check (default: 200 400 800)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per N (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="hypothesis seed, for a reproducible draw (default: %(default)s)")
    parser.add_argument("--margin", type=float, default=0.02,
                        help="distance in alpha2 kept from the critical lines "
                             "alpha2 = k(1/2 - alpha1) (default: %(default)s)")
    parser.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                        help="stop drawing new examples after this many seconds")


def run(args: argparse.Namespace) -> int:
    from twostep.theory.errors import ConfigError

    from ..claims import get_claim
    from ..fuzz import fuzz
    from .verify import load_config_file

    get_claim(args.claim)
    if not args.N or min(args.N) < 2:
        raise ConfigError("--N needs widths >= 2")
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be an integer >= 1, got {args.seeds}")
    base = load_config_file(args.config) if args.config else ModelConfig()

    def progress(config, verdicts):
        statuses = ", ".join(v.status for v in verdicts)
        print(f"  alpha=({config.alpha1:g}, {config.alpha2:g}) etabar1={config.etabar1:g} "
              f"psi_d={config.psi_d:g}: {statuses}", file=sys.stderr, flush=True)

    res = fuzz(args.claim, base, examples=args.examples, Ns=args.N, seeds=args.seeds,
               seed=args.seed, margin=args.margin, budget_s=args.budget, on_example=progress)
    counts = ", ".join(f"{k}: {res.counts.get(k, 0)}"
                       for k in ("consistent", "inconsistent", "inconclusive"))
    print(f"twostep fuzz {args.claim}: {counts}"
          + (" (budget exhausted)" if res.budget_exhausted else ""))
    if res.failure is not None:
        f = res.failure
        print(f"simplest failing point: alpha=({f.alpha1:g}, {f.alpha2:g}), etabar1={f.etabar1:g}, "
              f"psi_d={f.psi_d:g}: {res.failing_verdicts[0].reason}")
        print(f"reproduce: {res.command}")
        return 1
    return 0
