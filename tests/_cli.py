"""Shared helper of the CLI tests: run ``twostep`` in-process and capture what it printed."""

from __future__ import annotations

from twostep.compare.cli import main


def run_cli(capsys, *argv):
    """``(exit code, stdout, stderr)`` of ``twostep ARGV`` (argparse exits included)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
