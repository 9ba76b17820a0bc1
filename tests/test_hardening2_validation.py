"""Issue 19 §2 (bounded --seeds), §3 (validated before any work), §4 (memory, full disk) and
§7 (messages): one line, the right exit code, and no store or report left behind."""

from __future__ import annotations

import errno
import importlib.util
import sqlite3

import pytest
from _cli import run_cli

from twostep.compare.execution import sweep as sweep_module
from twostep.compare.execution.grid import Grid
from twostep.compare.execution.store import Store
from twostep.theory import ConfigError, ModelConfig

SWEEP = ["sweep", "--store", "s.sqlite", "--N", "20", "40", "--seeds", "2", "--top", "2",
         "--null-draws", "1", "--executor", "inline", "--quiet"]


def one_line(capsys, argv, code=2):
    got, out, err = run_cli(capsys, *argv)
    assert got == code and err.count("\n") == 1, (got, out, err)
    return err


# -- §2: --seeds is bounded and the plan sized before it is built ----------------------------


@pytest.mark.parametrize("argv", [
    ["sweep", "--store", "s.sqlite", "--N", "40", "--seeds", "100000000"],
    ["verify", "--store", "s.sqlite", "--claim", "bbp", "--N", "20", "40",
     "--seeds", "100000000"],
])
def test_huge_seed_counts_are_refused_at_once(workdir, capsys, argv):
    err = one_line(capsys, argv)
    assert "--seeds must be an integer in [1, 10000], got 100000000" in err
    assert list(workdir.iterdir()) == []


def test_plans_are_sized_before_their_cells_are_built(workdir, capsys):
    err = one_line(capsys, ["verify", "--store", "s.sqlite", "--claim", "bbp", "--seeds",
                            "10000", "--N", *map(str, range(20, 31))])
    assert "the plan has 110,000 cells, more than the 100,000" in err
    err = one_line(capsys, ["sweep", "--store", "s.sqlite", "--seeds", "10000", "--N",
                            *map(str, range(20, 31))])
    assert "the grid has 110,000 cells" in err
    assert list(workdir.iterdir()) == []
    with pytest.raises(ConfigError, match="the number of seeds must be an integer in"):
        Grid(ns=[20], seeds=10**8)


# -- §3: what simulate refuses, sweep and verify refuse once, before the store exists ---------


BAD_RUNS = [
    (["--terms", "3", "--activation", "relu"], "undefined for non-smooth activation 'relu'"),
    (["--spectra", "W3"], "W3 not in this 2-step run"),
    (["--activation", "floor(z)"], "floor(z)"),
    (["--activation", "sign(z)"], "sign(z) has a jump"),
    (["--activation", "exp(exp(exp(z)))"], "exp(exp(exp(z))) is inf at z = 1.89"),
    (["--target", "zeta(z)"], "zeta(z)"),
]
if importlib.util.find_spec("cupy") is None:
    BAD_RUNS.append((["--backend", "cupy"], "backend 'cupy' needs the gpu extra"))


@pytest.mark.parametrize("flags, words", BAD_RUNS)
def test_sweep_refuses_once_before_the_store_exists(workdir, capsys, flags, words):
    err = one_line(capsys, SWEEP + flags)
    assert err.startswith("twostep sweep: error:") and words in err, err
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize("activation, words", [("floor(z)", "floor(z)"),
                                               ("sign(z)", "has a jump"),
                                               ("exp(exp(exp(z)))", "is inf at z")])
def test_verify_config_refused_once_before_the_store_exists(workdir, capsys, activation, words):
    (workdir / "c.json").write_text(f'{{"activation": "{activation}"}}')
    for claim in ("left-vectors", "growth-exponent"):
        err = one_line(capsys, ["verify", "--claim", claim, "--config", "c.json", "--N", "20",
                                "40", "--seeds", "2", "--store", "v.sqlite", "--out", "o",
                                "--executor", "inline", "--quiet", "--no-plots"])
        assert words in err, err
        assert [p.name for p in workdir.iterdir()] == ["c.json"]


def test_verify_with_an_unreachable_scheduler_leaves_no_store(workdir, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(sweep_module, "DASK_CONNECT_TIMEOUT", "1s")
    err = run_cli(capsys, "verify", "--claim", "bbp", "--N", "20", "40", "--seeds", "2",
                  "--store", "v.sqlite", "--out", "o", "--executor", "dask", "--scheduler",
                  "tcp://127.0.0.1:9", "--quiet", "--no-plots")[2]
    assert "cannot reach the dask scheduler at 'tcp://127.0.0.1:9'" in err
    assert list(workdir.iterdir()) == []  # as sweep (docs/howto-dask.md)


# -- §4: out of memory, full disk ---------------------------------------------------------------


def test_simulate_out_of_memory_is_one_line(workdir, capsys, monkeypatch):
    from twostep.compare.commands import simulate as command

    def allocate(*args, **kwargs):
        raise MemoryError("Unable to allocate 74.5 GiB for an array with shape (100000, "
                          "100000) and data type float64")

    monkeypatch.setattr(command, "simulate_run", allocate)
    err = one_line(capsys, ["simulate", "--N", "40", "--allow-memory", "--out", "m.json"],
                   code=1)
    assert "ran out of memory (unable to allocate 74.5 GiB" in err and "--dtype float32" in err
    assert list(workdir.iterdir()) == []


def test_sweep_on_a_full_disk_says_so_and_keeps_the_store(workdir, capsys, monkeypatch):
    assert run_cli(capsys, *SWEEP[:5], "--seeds", "1", *SWEEP[8:])[0] == 0  # N = 20, seed 0
    real = Store.put_result
    calls = []

    def full(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "put_result", full)
    err = one_line(capsys, SWEEP, code=1)
    assert "the disk is full (database or disk is full)" in err and "nothing was lost" in err
    with Store(workdir / "s.sqlite", readonly=True) as store:
        assert len(store.done_keys()) == 2  # the first sweep's cell and one of this sweep's


def test_report_on_a_full_disk_says_so_and_leaves_nothing(workdir, capsys, monkeypatch):
    from twostep.compare.output import report as report_module

    assert run_cli(capsys, *SWEEP)[0] == 0

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report_module, "_write", full)
    err = one_line(capsys, ["report", "s.sqlite", "--out", "rep", "--no-plots"], code=1)
    assert "the disk is full" in err and "nothing was lost" in err
    assert [p.name for p in workdir.iterdir()] == ["s.sqlite"]


# -- §7: messages ------------------------------------------------------------------------------


def test_a_file_in_the_way_is_called_a_file(workdir, capsys):
    (workdir / "s1.sqlite").write_text("")
    err = one_line(capsys, ["simulate", "--N", "20", "--top", "2", "--out", "s1.sqlite/x"])
    assert "s1.sqlite is a file, not a folder" in err and "does not exist" not in err
    err = one_line(capsys, ["report", "s1.sqlite/x", "--out", "s1.sqlite/rep"])
    assert "does not exist" in err or "is a file" in err


def test_one_store_name_is_suggested(workdir, capsys):
    (workdir / "results").mkdir()
    err = one_line(capsys, ["sweep", "--store", "results", "--N", "20"])
    assert "results.sqlite" in err and "results.db" not in err


def test_fresh_is_accepted_by_sweep_as_by_simulate(workdir, capsys):
    from twostep.compare.cli import build_parser
    from twostep.compare.commands.sweep import build_grid

    args = build_parser().parse_args(["sweep", "--store", "s.sqlite", "--N", "20", "--batch",
                                      "fresh", "reuse"])
    assert {c.batch for c in build_grid(args).configs} == {"independent", "reuse"}
    err = one_line(capsys, ["simulate", "--N", "20", "--steps", "0.3:1:bogus"])
    assert "independent (or fresh) or reuse" in err


def test_fresh_in_a_config_file_is_read_as_on_the_command_line(workdir, capsys):
    """``"batch": "fresh"`` in a --config JSON is the flag's ``--batch fresh``: independent, for
    sweep and verify alike (and ModelConfig, which reads both); a wrong batch still names the
    accepted values."""
    from twostep.compare.cli import build_parser
    from twostep.compare.commands.sweep import build_grid
    from twostep.compare.commands.verify import load_config_file

    (workdir / "fresh.json").write_text('{"batch": "fresh", "alpha1": 0.2}')
    args = build_parser().parse_args(["sweep", "--store", "s.sqlite", "--N", "20",
                                      "--config", "fresh.json"])
    assert [c.batch for c in build_grid(args).configs] == ["independent"]
    assert load_config_file("fresh.json") == ModelConfig(batch="independent", alpha1=0.2)
    assert ModelConfig.from_dict({"batch": "fresh"}).batch == "independent"
    assert Grid(ns=[20], batches=["fresh", "reuse"]).batches == ("independent", "reuse")
    (workdir / "bad.json").write_text('{"batch": "sideways"}')
    err = one_line(capsys, ["verify", "--claim", "bbp", "--config", "bad.json", "--N", "20"])
    assert "batch must be one of reuse, independent (fresh is accepted for independent)" in err
    err = one_line(capsys, ["simulate", "--N", "20", "--steps", "0.3:1:reuse"])
    assert "step 1 must use a fresh batch (independent or fresh)" in err


def test_memory_messages_are_readable_and_spelled_for_their_caller(monkeypatch, capsys):
    from twostep.simulate import memory

    assert memory.format_bytes(24 * 10**18) == "20.8 EiB"
    assert memory.format_bytes(2.4 * 10**31).endswith(" EiB") and "e+" in \
        memory.format_bytes(2.4 * 10**31)
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)
    err = one_line(capsys, ["simulate", "--N", "1000000000000"])
    assert "EiB" in err and "--dtype float32" in err and "--allow-memory" in err
    assert "allow_memory" not in err and "dtype=" not in err
    estimate = memory.estimate_peak(16000, 16000, 16000, 8, block_rows=512, top=10)
    with pytest.raises(ConfigError) as info:
        memory.check(estimate, allow=False, what="run")
    assert 'dtype="float32"' in str(info.value) and "allow_memory=True" in str(info.value)
    assert "--" not in str(info.value)


def test_an_interrupted_store_open_leaves_no_wal_behind(tmp_path, monkeypatch):
    from twostep.compare.execution import store as store_module

    # fails after the store is in WAL mode and has written (as a Ctrl-C or a full disk would)
    monkeypatch.setattr(store_module, "_CLAIMS_SCHEMA", "CREATE TABLE IF NOT EXISTS claims AS "
                        "SELECT abs(-9223372036854775808) AS x")
    with pytest.raises(sqlite3.OperationalError, match="integer overflow") as info:
        Store(tmp_path / "s.sqlite")
    assert info.traceback  # the traceback (and the half-made Store) is still alive here
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]  # no -wal, no -shm


def test_grid_with_a_seed_list_is_not_bounded_by_count(tmp_path):
    grid = Grid(ns=[20], seeds=[0, 5], base=ModelConfig())
    assert grid.seeds == (0, 5)
