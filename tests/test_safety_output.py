"""`--out` never loses a file twostep did not write; `--format json` stdout is one document.

One tiny ``twostep verify`` (N = 20, 40; 2 seeds; inline) fills a store for the module; every
other test runs ``twostep report`` on a copy of it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest
from _cli import run_cli

from twostep.compare.cli import main
from twostep.compare.execution.store import Store
from twostep.compare.output.report import MARKER


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """(store, stdout, stderr) of one tiny verify run with --format json."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("filled")
    store = root / "s.sqlite"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["verify", "--claim", "growth-exponent", "--N", "20", "40", "--seeds", "2",
                     "--executor", "inline", "--quiet", "--no-plots", "--store", str(store),
                     "--out", str(root / "first-report"), "--format", "json"])
    assert code == 0, err.getvalue()
    return store, out.getvalue(), err.getvalue()


@pytest.fixture
def work(tmp_path, filled, monkeypatch):
    store = tmp_path / "s.sqlite"
    shutil.copy(filled[0], store)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot(root):
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def report(capsys, *extra, store="s.sqlite", out="rep"):
    return run_cli(capsys, "report", store, "--out", out, "--no-plots", *extra)


def test_verify_json_stdout_is_one_document_and_text_goes_to_stderr(filled):
    _, out, err = filled
    verdicts = json.loads(out)["verdicts"]  # with the predictions and the gamma_k
    assert isinstance(verdicts, list) and verdicts and verdicts[0]["claim"] == "growth-exponent"
    assert "predictions for the configurations the checks use" in err
    assert "tanh / He1, reuse, alpha=(0.3, 0.45)" in err  # the checked config, not another
    assert "twostep verify:" in err


def test_report_json_stdout_is_one_document(work, capsys):
    code, out, err = report(capsys, "--format", "json")
    assert code == 0, err
    assert [v["claim"] for v in json.loads(out)] == ["growth-exponent", "growth-exponent"]
    assert "report in rep/report.md" in err


@pytest.mark.parametrize("make", ["notes", "store-inside", "nested"])
def test_a_folder_twostep_did_not_write_is_never_touched(work, capsys, make):
    user = work / "rep"
    user.mkdir()
    (user / "notes.txt").write_text("my notes\n")
    store = "s.sqlite"
    if make == "store-inside":
        shutil.copy(work / "s.sqlite", user / "s.sqlite")
        store = "rep/s.sqlite"
    if make == "nested":
        (user / "sub").mkdir()
        (user / "sub" / "thesis.tex").write_text("\\section{}\n")
    before = snapshot(work)
    for extra in ((), ("--force",)):
        code, out, err = report(capsys, *extra, store=store)
        assert code == 2 and out == "" and err.count("\n") == 1, (extra, err)
        assert "rep" in err
        assert snapshot(work) == before  # nothing moved, nothing left beside it


@pytest.mark.parametrize("out, where", [(".", ""), ("..", ""), ("../work", "work"),
                                        ("../..", "work")])
def test_the_current_folder_or_one_above_it_is_refused(work, capsys, monkeypatch, out, where):
    inside = work / "work"
    inside.mkdir()
    (inside / "data.csv").write_text("1,2\n")
    monkeypatch.chdir(inside if where else work)
    store = "../s.sqlite" if where else "s.sqlite"
    before = snapshot(work.parent)
    code, _, err = report(capsys, store=store, out=out)
    assert code == 2 and "is the current folder or one above it" in err, err
    assert err.count("\n") == 1
    assert snapshot(work.parent) == before  # no .old / temporary folder left anywhere


def test_a_twostep_folder_is_replaced_and_force_covers_only_its_edited_files(work, capsys):
    code, _, err = report(capsys)
    assert code == 0, err
    marker = json.loads((work / "rep" / MARKER).read_text())
    assert marker["format"] == "twostep-report" and "report.md" in marker["files"]
    code, _, err = report(capsys)  # unchanged twostep folder: replaced
    assert code == 0, err
    (work / "rep" / "tables" / "mine").mkdir()  # a folder twostep did not make
    code, _, err = report(capsys)
    assert code == 2 and "(tables/mine)" in err
    (work / "rep" / "tables" / "mine").rmdir()
    (work / "rep" / "notes.txt").write_text("mine\n")
    code, _, err = report(capsys)
    assert code == 2 and "holds files twostep did not write (notes.txt)" in err
    assert "never deleted, --force or not" in err
    assert report(capsys, "--force")[0] == 2  # a file twostep did not write: never deleted
    assert (work / "rep" / "notes.txt").read_text() == "mine\n"
    (work / "rep" / "notes.txt").unlink()
    (work / "rep" / "report.md").write_text("edited by hand")
    code, _, err = report(capsys)
    assert code == 2 and "(report.md)" in err
    code, _, err = report(capsys, "--force")
    assert code == 0, err
    assert (work / "rep" / "report.md").read_text().startswith("# twostep verification report")
    assert sorted(p.name for p in work.iterdir()) == ["rep", "s.sqlite"]  # no leftovers


def test_force_never_replaces_a_twostep_folder_holding_the_store(work, capsys):
    assert report(capsys)[0] == 0
    shutil.move(work / "s.sqlite", work / "rep" / "s.sqlite")
    before = snapshot(work)
    code, _, err = report(capsys, "--force", store="rep/s.sqlite")
    assert code == 2 and "holds the store rep/s.sqlite" in err
    assert snapshot(work) == before


def test_an_empty_folder_is_written_into_and_kept(work, capsys):
    empty = work / "rep"
    empty.mkdir()
    empty.chmod(0o750)
    inode = empty.stat().st_ino
    code, _, err = report(capsys)
    assert code == 0, err
    assert empty.stat().st_ino == inode and stat.S_IMODE(empty.stat().st_mode) == 0o750
    assert (empty / "report.md").exists() and (empty / MARKER).exists()
    assert not [p for p in empty.iterdir() if "twostep-tmp" in p.name]


def test_modes_follow_the_umask(work, capsys):
    old = os.umask(0o002)
    try:
        code, _, err = report(capsys)
    finally:
        os.umask(old)
    assert code == 0, err
    rep = work / "rep"
    assert stat.S_IMODE(rep.stat().st_mode) == 0o775
    assert stat.S_IMODE((rep / "tables").stat().st_mode) == 0o775
    assert stat.S_IMODE((rep / "report.md").stat().st_mode) == 0o664


def test_report_leaves_nothing_beside_the_store(work, capsys):
    names = sorted(p.name for p in work.iterdir())
    code, _, err = report(capsys, out=str(work.parent / f"{work.name}-rep"))
    assert code == 0, err
    assert sorted(p.name for p in work.iterdir()) == names  # no s.sqlite-wal / -shm
    shutil.rmtree(work.parent / f"{work.name}-rep")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions that bind (not root)")
def test_report_on_a_store_in_a_read_only_folder(work, capsys):
    locked = work / "locked"
    locked.mkdir()
    shutil.move(work / "s.sqlite", locked / "s.sqlite")
    locked.chmod(0o555)
    try:
        code, _, err = report(capsys, store="locked/s.sqlite")
        assert code == 0, err
        assert sorted(p.name for p in locked.iterdir()) == ["s.sqlite"]
    finally:
        locked.chmod(0o755)


def test_an_empty_store_file_says_what_it_is(work, capsys):
    (work / "empty.sqlite").touch()
    code, _, err = report(capsys, store="empty.sqlite")
    assert code == 2 and "is an empty file (0 bytes)" in err and "twostep sweep" in err
    assert err.count("\n") == 1 and not (work / "rep").exists()


def test_a_store_of_another_version_says_so(work, capsys):
    from twostep.compare.execution.store import Cell
    from twostep.theory.config import ModelConfig

    with Store(work / "old.sqlite", version="0.0.1") as old:
        for N in (20, 40):
            old.put_result(Cell(ModelConfig(), N, 0), {"x": 1}, 0.0)
    code, _, err = report(capsys, store="old.sqlite")
    assert code == 2 and err.count("\n") == 1
    assert "holds 2 cell(s) from twostep 0.0.1 and none from this twostep" in err
    assert "report it with twostep 0.0.1" in err
