"""``twostep fuzz --claim C``: hypothesis over (alpha1, alpha2) for one claim.

Prints how many examples were evaluated and the count of each verdict (an example gives
one verdict per finding); on an ``inconsistent`` verdict, the simplest failing point
(after shrinking) and the exact command that reproduces it, and exits 1.  ``outlier-count``,
``term-exponent`` and ``reuse-gap`` are evaluated by rescaling one base sweep
(compare/plans/core.py; from Python, ``fuzz(..., core=False)`` simulates every example instead); a
failure found on the core is rerun directly with the claim's own options (what the reproduce
command runs) and both verdicts are printed.
"""

from __future__ import annotations

import argparse
import json
import sys

from twostep.theory.config import ModelConfig

from ._config_args import DistinctWidths
from ._output_args import add_json_argument, finite


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--claim", required=True, metavar="C", help="the claim to fuzz")
    parser.add_argument("--config", metavar="FILE.json",
                        help="base config (activation, target, batch, ...); alphas are drawn")
    parser.add_argument("--examples", type=int, default=10,
                        help="examples to draw (default: %(default)s)")
    parser.add_argument("--N", nargs="+", type=int, action=DistinctWidths, default=[200, 400, 800],
                        metavar="N",
                        help="widths of each check (default: 200 400 800)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per N (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="hypothesis seed, for a reproducible draw, 0..2^63-1 "
                             "(default: %(default)s)")
    parser.add_argument("--margin", type=float, default=0.02,
                        help="distance in alpha2 kept from the critical lines "
                             "alpha2 = k(1/2 - alpha1) (default: %(default)s)")
    parser.add_argument("--budget", default=None, metavar="MIN",
                        help="stop drawing new examples after MIN minutes (finite, > 0; 10m and "
                             "600s also work; it was seconds before 0.4, so a bare number over "
                             "60 is refused: give 90m for 90 minutes)")
    add_json_argument(parser, "the counts, the simplest failing point and its reproduce "
                              "command")


#: The verdict statuses the summary counts (the values of ``claims.codes.Status``, written out
#: so that the command imports no claim before it runs).
STATUS_NAMES = ("consistent", "inconsistent", "inconclusive", "blocked")


def summary_line(claim: str, res) -> str:
    """``twostep fuzz C: E examples, V verdicts (one per finding of an example): consistent:
    ..., inconsistent: ..., inconclusive: ..., blocked: ...``: both counts, since an example
    gives one verdict per finding."""
    counts = ", ".join(f"{k}: {res.counts.get(k, 0)}" for k in STATUS_NAMES)
    total = sum(res.counts.values())
    examples = f"{res.evaluated} example{'' if res.evaluated == 1 else 's'}"
    verdicts = f"{total} verdict{'' if total == 1 else 's'}"
    return (f"twostep fuzz {claim}: {examples}, {verdicts} (one per finding of an example): "
            f"{counts}" + (" (budget exhausted)" if res.budget_exhausted else ""))


def run(args: argparse.Namespace) -> int:
    from twostep.simulate import spectra
    from twostep.theory.errors import ConfigError

    from ..plans.fuzz import MAX_SEED, fuzz
    from ..science.claims import get_claim
    from ._budget import budget_minutes
    from ._config_args import load_config_file

    claim = get_claim(args.claim)
    minutes = budget_minutes(args.budget, seconds_guard=True)
    if not 0 <= args.seed <= MAX_SEED:
        raise ConfigError(f"--seed must be an integer >= 0 and <= 2^63 - 1 = {MAX_SEED}, "
                          f"got {args.seed}")
    if args.examples < 1:
        raise ConfigError(f"--examples must be an integer >= 1, got {args.examples}")
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be an integer >= 1, got {args.seeds}")
    base = load_config_file(args.config) if args.config else ModelConfig()
    # every width must hold the 10 singular values the spectra keep, at every psi_d drawn
    psis = claim.domain().psi_values(base)
    least = max(spectra.min_width(10, psi) for psi in psis)
    if not args.N or min(args.N) < least:
        raise ConfigError(f"--N needs widths >= {least} (the spectra keep 10 singular values; "
                          f"psi_d = {min(psis):g}), got {' '.join(map(str, args.N)) or 'none'}")

    def progress(config, verdicts):
        statuses = ", ".join(v.status for v in verdicts)
        print(f"  alpha=({config.alpha1:g}, {config.alpha2:g}) etabar1={config.etabar1:g} "
              f"psi_d={config.psi_d:g}: {statuses}", file=sys.stderr, flush=True)

    def core_done(info):
        opts = info["options"]
        print(f"core: one base sweep at alpha1={info['base'].alpha1:g}, "
              f"etabar1={info['base'].etabar1:g} (terms={opts['terms']}, "
              f"max_power={opts['max_power']}) in {info['sweep_s']:.1f} s; examples are "
              "evaluated by rescaling it", file=sys.stderr, flush=True)

    res = fuzz(args.claim, base, examples=args.examples, Ns=args.N, seeds=args.seeds,
               seed=args.seed, margin=args.margin,
               budget_s=None if minutes is None else minutes * 60, on_example=progress,
               on_core=core_done)
    if args.json:
        print(json.dumps(finite(json_data(args.claim, res)), indent=2, allow_nan=False))
        return 1 if res.failure is not None else 0
    print(summary_line(args.claim, res))
    if res.failure is not None:
        f = res.failure
        print(f"simplest failing point: alpha=({f.alpha1:g}, {f.alpha2:g}), etabar1={f.etabar1:g}, "
              f"psi_d={f.psi_d:g}: {res.failing_verdicts[0].reason}")
        print(f"reproduce: {res.command}")
        if res.confirmation is not None:
            direct = ", ".join(f"{v.subject}: {v.status}" for v in res.confirmation)
            opts = res.core["options"]
            print(f"found on the core (a run with terms={opts['terms']}, "
                  f"max_power={opts['max_power']}); the reproduce command's direct run: {direct}")
            if not any(v.status == "inconsistent" for v in res.confirmation):
                print("the direct run with the claim's own options does not confirm it; "
                      f"with the core's options: {res.core_command}")
        return 1
    return 0


def json_data(claim: str, res) -> dict:
    """What ``--json`` prints: what the text shows, as one object (``failure`` is null when no
    example was inconsistent)."""
    data = {"claim": claim, "examples": res.evaluated,
            "counts": {k: res.counts.get(k, 0) for k in STATUS_NAMES},
            "budget_exhausted": bool(res.budget_exhausted), "failure": None}
    if res.failure is not None:
        data["failure"] = {
            "config": res.failure.to_dict(),
            "verdicts": [v.to_dict() for v in res.failing_verdicts],
            "reproduce": res.command,
            "confirmation": (None if res.confirmation is None
                             else [v.to_dict() for v in res.confirmation]),
            "core_command": res.core_command if res.confirmation is not None else None}
    return data
