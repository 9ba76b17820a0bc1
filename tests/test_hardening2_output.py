"""Issue 19 §1: `simulate --out` and `report --force` never lose a file twostep did not write.

`simulate --out FILE` writes new files, replaces only files a twostep simulate wrote (with
--force), never a symbolic link, a device or FIFO (the /dev/null case, on a FIFO stand-in), nor
an .npz sibling it did not write; `-` is standard output; the modes follow the umask.
"""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from _cli import run_cli

from twostep.compare.commands import simulate as command
from twostep.simulate import Measurement
from twostep.simulate import run as simulate_run
from twostep.theory import ConfigError, ModelConfig

SMALL = ["simulate", "--N", "20", "--top", "2", "--null-draws", "1"]


@pytest.fixture(scope="module")
def measured():
    return simulate_run(ModelConfig(), 20, 0, top=2, null_draws=1)


@pytest.fixture
def fast(monkeypatch, measured):
    """The command's simulation replaced by one small measurement (counted)."""
    calls = []

    def fake(*args, **kwargs):
        calls.append(args)
        return measured

    monkeypatch.setattr(command, "simulate_run", fake)
    return calls


def snapshot(root):
    out = {}
    for p in sorted(root.iterdir()):
        info = os.lstat(p)
        body = p.read_bytes() if stat.S_ISREG(info.st_mode) else os.readlink(p) \
            if stat.S_ISLNK(info.st_mode) else None
        out[p.name] = (stat.S_IFMT(info.st_mode), body)
    return out


def refused(capsys, *argv):
    code, out, err = run_cli(capsys, *SMALL, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1, (code, out, err)
    return err


def test_a_file_twostep_did_not_write_is_never_replaced(workdir, capsys, fast):
    (workdir / "notes.txt").write_text("keep\n")
    before = snapshot(workdir)
    for extra in ((), ("--force",)):
        err = refused(capsys, "--out", "notes.txt", *extra)
        assert "notes.txt exists and twostep did not write it" in err
        assert snapshot(workdir) == before  # no notes.npz either
    assert fast == []  # refused before simulating


def test_a_store_is_never_replaced(workdir, capsys, fast):
    from twostep.compare.execution.store import Store

    with Store(workdir / "store.sqlite"):
        pass
    before = snapshot(workdir)
    err = refused(capsys, "--out", "store.sqlite", "--force")
    assert "twostep did not write it" in err and snapshot(workdir) == before


def test_an_unrelated_npz_sibling_is_never_touched(workdir, capsys, fast):
    np.savez(workdir / "data.npz", mine=np.arange(3))
    before = snapshot(workdir)
    for extra in ((), ("--force",)):
        err = refused(capsys, "--out", "data.json", *extra)
        assert "data.npz exists and twostep did not write it" in err
        assert snapshot(workdir) == before


def test_a_symbolic_link_and_its_target_are_never_replaced(workdir, capsys, fast, measured):
    measured.save(workdir / "target.json")  # even a link to a twostep file
    (workdir / "lnk").symlink_to("target.json")
    (workdir / "other.json").symlink_to("missing.json")  # a dangling link too
    before = snapshot(workdir)
    for out in ("lnk", "other.json"):
        err = refused(capsys, "--out", out, "--force")
        assert "is a symbolic link" in err
    assert snapshot(workdir) == before


def test_a_device_or_fifo_is_never_replaced(workdir, capsys, fast):
    # the /dev/null case on a harmless stand-in: a FIFO in a temporary folder
    os.mkfifo(workdir / "null")
    before = snapshot(workdir)
    err = refused(capsys, "--out", "null", "--force")
    assert "is not a regular file" in err
    assert stat.S_ISFIFO(os.lstat(workdir / "null").st_mode) and snapshot(workdir) == before


def test_a_measurement_is_replaced_only_with_force(workdir, capsys, fast):
    code, out, err = run_cli(capsys, *SMALL, "--out", "m.json")
    assert code == 0 and "saved m.json and m.npz" in out, err
    before = snapshot(workdir)
    err = refused(capsys, "--out", "m.json")
    assert "m.json exists (a twostep measurement)" in err and "--force" in err
    assert snapshot(workdir) == before
    (workdir / "m.json").write_text((workdir / "m.json").read_text().replace('"N": 20', '"N": 7'))
    code, out, err = run_cli(capsys, *SMALL, "--out", "m.json", "--force")
    assert code == 0, err
    assert Measurement.load(workdir / "m.json").N == 20
    assert sorted(p.name for p in workdir.iterdir()) == ["m.json", "m.npz"]  # no temporaries


def test_dash_means_standard_output(workdir, capsys, fast):
    code, out, err = run_cli(capsys, *SMALL, "--out", "-")
    assert code == 0, err
    assert json.loads(out)["N"] == 20  # stdout is one JSON document
    assert "twostep simulate:" in err  # the summary went to stderr
    assert list(workdir.iterdir()) == []  # no file named '-'
    assert "--spectrum" in refused(capsys, "--out", "-", "--spectrum")


def test_saved_files_follow_the_umask(tmp_path, measured):
    old = os.umask(0o002)
    try:
        measured.save(tmp_path / "m.json")
    finally:
        os.umask(old)
    for name in ("m.json", "m.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o664, name


def test_the_api_refuses_like_the_command(tmp_path, measured):
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(ConfigError, match="twostep did not write it"):
        measured.save(tmp_path / "a.json", force=True)
    measured.save(tmp_path / "b.json")
    with pytest.raises(ConfigError, match=r"force=True to replace it"):
        measured.save(tmp_path / "b.json")
    measured.save(tmp_path / "b.json", force=True)
    assert (tmp_path / "a.json").read_text() == "{}"


def test_a_file_appearing_during_the_save_is_kept(tmp_path, measured, monkeypatch):
    target = tmp_path / "m.json"
    real = Measurement.check_save

    def late(path, **kwargs):  # passes, then someone else writes the JSON
        out = real(path, **kwargs)
        target.write_text("theirs")
        return out

    monkeypatch.setattr(Measurement, "check_save", staticmethod(late))
    with pytest.raises(ConfigError, match="appeared while"):
        measured.save(target)
    assert target.read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]  # our npz rolled back


# -- report --force --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from twostep.compare.cli import main

    root = tmp_path_factory.mktemp("store")
    code = main(["sweep", "--store", str(root / "s.sqlite"), "--N", "20", "40", "--seeds", "2",
                 "--executor", "inline", "--quiet", "--top", "2", "--null-draws", "1"])
    assert code == 0
    return root / "s.sqlite"


@pytest.mark.parametrize("plant", ["file", "store", "folder", "link"])
def test_report_force_never_deletes_what_twostep_did_not_write(workdir, capsys, store, plant):
    import shutil

    shutil.copy(store, workdir / "s.sqlite")
    code, _, err = run_cli(capsys, "report", "s.sqlite", "--out", "rep", "--no-plots")
    assert code == 0, err
    rep = workdir / "rep"
    if plant == "file":
        (rep / "thesis.tex").write_text("mine")
    elif plant == "store":
        shutil.copy(store, rep / "other.sqlite")
    elif plant == "folder":
        (rep / "tables" / "mine").mkdir()
        (rep / "tables" / "mine" / "a.csv").write_text("1\n")
    else:
        (rep / "link").symlink_to(workdir / "s.sqlite")
    before = {p.relative_to(workdir).as_posix(): p.read_bytes() if p.is_file() else None
              for p in sorted(workdir.rglob("*"))}
    code, out, err = run_cli(capsys, "report", "s.sqlite", "--out", "rep", "--no-plots",
                             "--force")
    assert code == 2 and err.count("\n") == 1, err
    assert "did not write" in err and "never deleted" in err
    after = {p.relative_to(workdir).as_posix(): p.read_bytes() if p.is_file() else None
             for p in sorted(workdir.rglob("*"))}
    assert after == before
