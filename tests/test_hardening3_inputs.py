"""Issue 27, inputs: every file, config and flag a user gives gets bounded work and, when it is
refused, one line (exit 2) before anything is written. One test per class of reproducer."""

from __future__ import annotations

import pytest
from _cli import run_cli

from twostep.simulate.options import MAX_NULL_DRAWS, RunOptions
from twostep.theory import ConfigError

SMALL_SWEEP = ["sweep", "--store", "s.sqlite", "--N", "20", "--top", "2", "--null-draws", "1",
               "--executor", "inline", "--quiet"]


def one_line(capsys, argv, code=2):
    """The one stderr line of ``twostep ARGV``, which must exit ``code`` and print no
    traceback."""
    got, out, err = run_cli(capsys, *argv)
    assert got == code and err.count("\n") == 1 and "Traceback" not in err, (got, out, err)
    return err


# -- bounded work: --null-draws ---------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["simulate", "--N", "60", "--null-draws", "100000000"],
    ["sweep", "--store", "s.sqlite", "--N", "60", "--null-draws", "100000000"],
])
def test_null_draws_are_bounded_in_every_command(workdir, capsys, argv):
    err = one_line(capsys, argv)
    assert f"--null-draws must be an integer in [0, {MAX_NULL_DRAWS}], got 100000000" in err
    assert list(workdir.iterdir()) == []


def test_null_draws_bound_is_the_options_own():
    # the API and config files share the bound with the flags
    assert RunOptions(null_draws=MAX_NULL_DRAWS).null_draws == MAX_NULL_DRAWS
    with pytest.raises(ConfigError, match=r"null_draws must be an integer in \[0, 1000\]"):
        RunOptions.from_mapping({"null_draws": MAX_NULL_DRAWS + 1})
