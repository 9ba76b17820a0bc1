"""The ``twostep`` command line.

Each subcommand lives in ``twostep.compare.commands.<name>`` and provides
``add_arguments(parser)`` and ``run(args) -> int``.  User errors
(:class:`ConfigError`, bad flags) and evaluations given up after their time
budget (:class:`TimeBudgetError`) print one line and exit 2; numerical
blow-ups (:class:`NonFiniteError`) print where they happened and exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from twostep.theory.errors import ConfigError, NonFiniteError, TimeBudgetError, TwostepError

#: The description ``twostep --help`` shows (plain text: no markup).
DESCRIPTION = ("twostep: check theorems about two-step feature learning against finite-N "
               "simulation (docs: README.md and docs/)")

#: subcommand -> one-line help.  Order is the order shown by --help.
COMMANDS = {
    "verify": "check the built-in claims and print the convergence tables (the main job)",
    "theory": "predictions of the two-step theory for one configuration",
    "hermite": "Hermite coefficients of an activation or target",
    "simulate": "run the GD steps once and measure spectra and directions",
    "sweep": "run a grid of simulations into a resumable store",
    "report": "rebuild tables and figures from a store without simulating",
    "export": "write a store's per-seed measurements as one long CSV or parquet table",
    "fuzz": "fuzz (alpha1, alpha2) for a claim with hypothesis",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (exit 2), no usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="twostep", description=DESCRIPTION)
    from twostep.simulate.measurement import package_version

    parser.add_argument("--version", action="version", version=f"twostep {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"twostep.compare.commands.{name}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except ConfigError as err:
        print(f"twostep {args.command}: error: {err}", file=sys.stderr)
        return 2
    except TimeBudgetError as err:
        hint = ("; allow more with --time-budget SECONDS"
                if getattr(args, "time_budget", None) is not None else "")
        print(f"twostep {args.command}: {err}{hint}", file=sys.stderr)
        return 2
    except NonFiniteError as err:
        print(f"twostep {args.command}: numerical error: {err}", file=sys.stderr)
        return 1
    except TwostepError as err:
        print(f"twostep {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"twostep {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `twostep simulate ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
