"""A store is a plain file path; impossible widths are refused before the store is created."""

from __future__ import annotations

import sqlite3

import pytest
from _cli import run_cli

from twostep.compare.execution.store import Cell, Store, check_store_path
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError

URIS = ["file:x.sqlite", "FILE:x.sqlite", ":memory:", "file:y?mode=memory",
        "file::memory:?cache=shared", "file:///tmp/z.sqlite?mode=rwc"]


@pytest.mark.parametrize("name", URIS)
def test_uri_stores_are_refused_by_every_command(workdir, capsys, name):
    for argv in (["sweep", "--store", name, "--N", "20", "--executor", "inline"],
                 ["verify", "--store", name, "--claim", "bbp", "--N", "20", "40",
                  "--seeds", "1", "--executor", "inline"],
                 ["report", name, "--out", "rep"]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2, (argv, out, err)
        assert err.count("\n") == 1 and name in err, err
        assert "plain file path" in err
    assert list(workdir.iterdir()) == []  # nothing created, not even x.sqlite


@pytest.mark.parametrize("name", URIS)
def test_the_python_api_refuses_uris(workdir, name):
    for attempt in (lambda: Store(name), lambda: Store(name, readonly=True),
                    lambda: check_store_path(name)):
        with pytest.raises(ConfigError, match="plain file path"):
            attempt()
    assert list(workdir.iterdir()) == []


def test_a_file_named_like_a_uri_is_used_by_its_absolute_path(workdir):
    name = str(workdir / "file:x.sqlite")
    with Store(name) as store:
        store.put_result(Cell(ModelConfig(), 20, 0), {"x": 1}, 0.0)
    assert sorted(p.name for p in workdir.iterdir()) == ["file:x.sqlite"]
    with Store(name, readonly=True) as store:
        assert store.counts()["done"] == 1


def test_the_uri_trick_no_longer_writes_into_a_foreign_database(workdir, capsys):
    conn = sqlite3.connect(workdir / "x.sqlite")
    conn.execute("CREATE TABLE precious (v)")
    conn.commit()
    conn.close()
    before = (workdir / "x.sqlite").read_bytes()
    code, _, err = run_cli(capsys, "sweep", "--store", "file:x.sqlite", "--N", "20")
    assert code == 2 and (workdir / "x.sqlite").read_bytes() == before


@pytest.mark.parametrize("argv, words", [
    (["sweep", "--store", "s.sqlite", "--N", "2"], "N=2 is too small"),
    (["sweep", "--store", "s.sqlite", "--N", "9", "20"], "use N >= 10 or --top <= 9"),
    (["sweep", "--store", "s.sqlite", "--N", "12", "--top", "15"], "use N >= 15"),
    (["sweep", "--store", "s.sqlite", "--N", "1000000000"], "EiB per cell"),
    (["sweep", "--store", "s.sqlite", "--N", "1e9"], "invalid int value"),
    (["verify", "--store", "s.sqlite", "--claim", "bbp", "--N", "2", "40"], "N=2 is too small"),
    (["verify", "--store", "s.sqlite", "--claim", "bbp", "--N", "20", "1000000000"],
     "EiB per cell"),
])
def test_impossible_widths_are_refused_before_the_store_exists(workdir, capsys, argv, words):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (out, err)
    assert words in err and err.count("\n") == 1, err
    assert "--allow-memory" not in err
    assert list(workdir.iterdir()) == []  # no store, no report folder


def test_memory_hint_names_the_dtype_flag_where_it_helps(workdir, capsys, monkeypatch):
    from twostep.compare.execution.cell_checks import _peak_bytes
    from twostep.simulate import memory

    # a machine where N = 3000 fits in float32 but not in float64
    opts = {"top": 10, "spectrum": False, "features": False}
    between = (_peak_bytes(3000, 3000, 3000, 4, opts) + _peak_bytes(3000, 3000, 3000, 8, opts)) // 2
    monkeypatch.setattr(memory, "available_bytes", lambda: between)
    code, _, err = run_cli(capsys, "sweep", "--store", "s.sqlite", "--N", "3000")
    assert code == 2 and "use smaller widths or --dtype float32" in err, err
    monkeypatch.setattr(memory, "available_bytes", lambda: between // 4)
    code, _, err = run_cli(capsys, "sweep", "--store", "s.sqlite", "--N", "3000")
    assert code == 2 and err.rstrip().endswith("use smaller widths"), err
    assert list(workdir.iterdir()) == []


def test_a_store_created_meanwhile_by_another_process_is_used(workdir, monkeypatch):
    import twostep.compare.execution.store as store_module

    path = workdir / "s.sqlite"
    Store(path).close()  # the other process won the race
    monkeypatch.setattr(store_module, "check_store_path", lambda p, readonly=False: False)
    with Store(path) as late:  # it saw no file, so it creates: and finds the schema made
        monkeypatch.undo()
        late.put_result(Cell(ModelConfig(), 20, 0), {"x": 1}, 0.0)
    with Store(path, readonly=True) as s:
        assert s.counts()["done"] == 1
