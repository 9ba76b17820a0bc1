"""Issue 27, inputs: every file, config and flag a user gives gets bounded work and, when it is
refused, one line (exit 2) before anything is written. One test per class of reproducer."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import pathlib
import re
import threading
from fractions import Fraction

import pytest
from _cli import run_cli

from twostep.compare.execution.paths import MAX_INPUT_BYTES, disk_full, read_input_file
from twostep.simulate.options import MAX_NULL_DRAWS, RunOptions
from twostep.theory import ConfigError, ModelConfig
from twostep.theory.config import number_text

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


# -- input files: regular files only, of bounded size ------------------------------------------


def _unblock_later(fifo, seconds):
    """Open ``fifo`` for writing after ``seconds``: a reader that blocks on it (the regression)
    then gets end-of-file and an empty config, so the test fails on the message instead of
    hanging."""
    def writer():
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    timer = threading.Timer(seconds, writer)
    timer.daemon = True
    timer.start()
    return timer


CONFIG_COMMANDS = [
    ["sweep", "--store", "s.sqlite", "--N", "20"],
    ["verify", "--claim", "bbp", "--store", "s.sqlite", "--N", "20"],
    ["fuzz", "--claim", "bbp"],
]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("command", CONFIG_COMMANDS)
def test_a_named_pipe_as_config_is_refused_at_once(workdir, capsys, command):
    os.mkfifo("p.json")
    timer = _unblock_later(workdir / "p.json", 30.0)
    err = one_line(capsys, command + ["--config", "p.json"])
    timer.cancel()
    assert "cannot read --config p.json: it is a named pipe; give a regular file" in err
    assert sorted(p.name for p in workdir.iterdir()) == ["p.json"]


@pytest.mark.parametrize("command", CONFIG_COMMANDS)
def test_a_folder_or_an_oversized_file_as_config_is_refused(workdir, capsys, command):
    (workdir / "folder").mkdir()
    err = one_line(capsys, command + ["--config", "folder"])
    assert "cannot read --config folder: it is a folder" in err
    # a valid JSON object, padded past the limit: refused by its size, not parsed
    (workdir / "big.json").write_text('{"alpha1": 0.3}' + " " * MAX_INPUT_BYTES)
    err = one_line(capsys, command + ["--config", "big.json"])
    assert f"larger than {MAX_INPUT_BYTES:,} bytes" in err
    assert sorted(p.name for p in workdir.iterdir()) == ["big.json", "folder"]


def test_the_input_reader_reads_regular_files_and_links_to_them(workdir):
    (workdir / "c.json").write_bytes(b'{"alpha1": 0.2}')
    (workdir / "link.json").symlink_to("c.json")
    assert read_input_file("link.json", "--config link.json") == b'{"alpha1": 0.2}'
    (workdir / "full.json").write_bytes(b"x" * MAX_INPUT_BYTES)  # exactly the limit: read
    assert len(read_input_file("full.json", "x")) == MAX_INPUT_BYTES
    with pytest.raises(ConfigError, match="cannot read x: .*No such file"):
        read_input_file("missing.json", "x")


# -- config files: a key given twice ---------------------------------------------------------


@pytest.mark.parametrize("command", CONFIG_COMMANDS)
def test_a_key_given_twice_is_refused_naming_it(workdir, capsys, command):
    (workdir / "dup.json").write_text('{"alpha1": 0.6, "alpha1": 0.3}')
    err = one_line(capsys, command + ["--config", "dup.json"])
    assert "--config dup.json: config gives 'alpha1' more than once" in err
    assert sorted(p.name for p in workdir.iterdir()) == ["dup.json"]


def test_from_json_refuses_a_key_given_twice_and_reads_distinct_keys():
    with pytest.raises(ConfigError, match="config gives 'psi_d' more than once"):
        ModelConfig.from_json('{"psi_d": 1, "alpha1": 0.2, "psi_d": 2}')
    assert ModelConfig.from_json('{"psi_d": 2, "alpha1": 0.2}') == ModelConfig(psi_d=2,
                                                                               alpha1=0.2)


# -- config files: a huge integer, deep nesting ------------------------------------------------


HOSTILE_CONFIGS = {
    "digits.json": ('{"psi_d": ' + "1" * 5000 + "}",
                    "config holds an integer of 5000 digits; a field holds a finite number"),
    "deep-array.json": ('{"psi_d": ' + "[" * 100_000 + "]" * 100_000 + "}",
                        "config is nested too deeply to read"),
    "deep-object.json": ('{"a":' * 100_000 + "1" + "}" * 100_000,
                         "config is nested too deeply to read"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_CONFIGS))
@pytest.mark.parametrize("command", CONFIG_COMMANDS)
def test_hostile_json_is_one_line(workdir, capsys, command, name):
    text, words = HOSTILE_CONFIGS[name]
    (workdir / name).write_text(text)
    err = one_line(capsys, command + ["--config", name])
    assert f"--config {name}: {words}" in err
    assert sorted(p.name for p in workdir.iterdir()) == [name]


def test_messages_quote_hostile_values_in_short():
    # nesting json still parses (below the recursion limit) and integers past a float: the
    # message stays one short line (repr of either would be long, or raise)
    with pytest.raises(ConfigError, match=r"psi_d must be a number, got \[\[\[\[\.\.\.\]\]\]\]$"):
        ModelConfig.from_json('{"psi_d": ' + "[" * 500 + "]" * 500 + "}")
    with pytest.raises(ConfigError, match="psi_d must be finite, got an integer of about 5001 "
                                          "digits"):
        ModelConfig(psi_d=10**5000)
    with pytest.raises(ConfigError, match="alpha1 must be finite, got an integer of about 400 "
                                          "digits"):
        ModelConfig(alpha1=10**399)  # beyond the largest float: OverflowError, caught
    assert ModelConfig.from_json('{"psi_d": ' + "1" + "0" * 300 + "}").psi_d == 1e300


# -- output paths: names too long, other OSErrors ------------------------------------------------


LONG = "a" * 300


@pytest.mark.parametrize("argv", [
    ["simulate", "--N", "20", "--top", "2", "--out", LONG + ".json"],
    ["simulate", "--N", "20", "--top", "2", "--out", LONG + "/m.json"],
    ["sweep", "--N", "20", "--store", LONG + ".sqlite"],
    ["verify", "--store", LONG + ".sqlite"],
    ["report", "s.sqlite", "--out", LONG],
    ["verify", "--out", LONG],
])
def test_names_too_long_are_one_line_naming_the_limit(workdir, capsys, argv):
    if argv[0] == "report":
        assert run_cli(capsys, *SMALL_SWEEP)[0] == 0
    before = sorted(p.name for p in workdir.iterdir())
    err = one_line(capsys, argv)
    assert re.search(r"the name a{24}\.\.\. is 30[0-9] bytes long; a file or folder name may "
                     r"have at most \d+ bytes here", err), err
    assert sorted(p.name for p in workdir.iterdir()) == before


def test_a_path_longer_than_the_system_allows_is_one_line(workdir, capsys):
    deep = "/".join(["b" * 200] * 30)  # each name fits, the whole does not (PATH_MAX 4096)
    err = one_line(capsys, ["sweep", "--N", "20", "--store", deep])
    assert "the path is 6029 bytes long; a path may have at most" in err


def test_an_oserror_looking_at_an_output_path_is_one_line(workdir, capsys, monkeypatch):
    def denied(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "is_dir", denied)
    err = one_line(capsys, ["simulate", "--N", "20", "--top", "2", "--out", "m.json"])
    assert err == "twostep simulate: error: --out m.json: Permission denied\n"
    err = one_line(capsys, ["sweep", "--N", "20", "--store", "s.sqlite"])
    assert err == "twostep sweep: error: store s.sqlite: Permission denied\n"
    assert list(workdir.iterdir()) == []


def test_an_oserror_while_writing_is_one_line_exit_1(workdir, capsys, monkeypatch):
    from twostep.simulate import Measurement

    def broken(self, path, **kwargs):
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(Measurement, "save", broken)
    err = one_line(capsys, ["simulate", "--N", "20", "--top", "2", "--out", "m.json"], code=1)
    assert err.startswith("twostep simulate: error: --out m.json: Input/output error (m.json); "
                          "nothing was lost")
    # an OSError that is not a file's keeps its own handling
    with pytest.raises(OSError, match="no file"), disk_full("x"):
        raise OSError(errno.EAGAIN, "no file")


# -- a trailing slash names a folder -----------------------------------------------------------


@pytest.mark.parametrize("argv, words", [
    (["simulate", "--N", "20", "--top", "2", "--out", "newdir/"],
     "--out newdir/: a trailing / names a folder, and no folder newdir exists; --out takes a "
     "file name, e.g. newdir.json"),
    (["sweep", "--N", "20", "--store", "newdir/"],
     "store newdir/: a trailing / names a folder, and no folder newdir exists; a store is a "
     "file: give a name such as newdir.sqlite"),
    (["verify", "--store", "s.sqlite/"],
     "store s.sqlite/: a trailing / names a folder, and no folder s.sqlite exists"),
])
def test_a_trailing_slash_for_a_missing_folder_says_so(workdir, capsys, argv, words):
    err = one_line(capsys, argv)
    assert words in err and "is a directory" not in err
    assert list(workdir.iterdir()) == []  # sweep made a file "newdir" of "newdir/" before


def test_an_existing_folder_as_out_is_still_named_a_directory(workdir, capsys):
    (workdir / "adir").mkdir()
    for out in ("adir", "adir/"):
        err = one_line(capsys, ["simulate", "--N", "20", "--top", "2", "--out", out])
        assert f"{out} is a directory; give a file name (e.g. adir/run.json)" in err


# -- stores: an empty file is not one twostep made ------------------------------------------


@pytest.mark.parametrize("argv", [SMALL_SWEEP,
                                  ["verify", "--claim", "bbp", "--store", "s.sqlite", "--N",
                                   "20", "40", "--seeds", "1"],
                                  ["report", "s.sqlite", "--out", "r"]])
def test_an_empty_file_is_never_taken_over_as_a_store(workdir, capsys, argv):
    (workdir / "s.sqlite").touch()
    stamp = (workdir / "s.sqlite").stat().st_mtime_ns
    err = one_line(capsys, argv)
    assert "store s.sqlite is an empty file (0 bytes) that twostep did not create" in err
    assert sorted(p.name for p in workdir.iterdir()) == ["s.sqlite"]
    assert (workdir / "s.sqlite").read_bytes() == b""
    assert (workdir / "s.sqlite").stat().st_mtime_ns == stamp


def test_a_new_store_is_written_whole_and_never_replaces_a_file(workdir, monkeypatch):
    from twostep.compare.execution import store_schema
    from twostep.compare.execution.store import Store
    from twostep.compare.execution.store_paths import check_store_path

    with Store("s.sqlite") as store:  # its own fresh file: created, used
        assert store.counts() == {"done": 0, "failed": 0}
    assert check_store_path("s.sqlite") is True
    assert sorted(p.name for p in workdir.iterdir()) == ["s.sqlite"]  # no temporary left
    # a file appearing at the name while the store is built is never replaced
    (workdir / "theirs").write_bytes(b"precious")
    assert store_schema.write_new_store(workdir / "theirs", "test") is False
    assert (workdir / "theirs").read_bytes() == b"precious"
    # without hard links (some file systems): renamed into place after a last look
    monkeypatch.setattr(os, "link", lambda *a, **k: (_ for _ in ()).throw(
        OSError(errno.EPERM, "Operation not permitted")))
    assert store_schema.write_new_store(workdir / "new.sqlite", "test") is True
    assert check_store_path(workdir / "new.sqlite") is True
    assert store_schema.write_new_store(workdir / "theirs", "test") is False
    assert (workdir / "theirs").read_bytes() == b"precious"
    assert sorted(p.name for p in workdir.iterdir()) == ["new.sqlite", "s.sqlite", "theirs"]


# -- the Python API: wrong types are one ConfigError ---------------------------------------------


@pytest.mark.parametrize("call, words", [
    (lambda: ModelConfig.from_json(5), "a config's JSON must be text (str or bytes), got int"),
    (lambda: ModelConfig.from_json(None), "got NoneType"),
    (lambda: ModelConfig().exact("bogus"), "'bogus' is not a numeric field of ModelConfig; "
                                           "allowed: noise, psi_d"),
    (lambda: ModelConfig().exact("activation"), "'activation' is not a numeric field"),
    (lambda: ModelConfig.from_dict({1: 2, "b": 3}), "unknown config field(s) 1, b; allowed:"),
])
def test_api_misuse_is_a_config_error(call, words):
    with pytest.raises(ConfigError) as info:
        call()
    assert words in str(info.value)


def test_exact_still_reads_every_numeric_field():
    cfg = ModelConfig(alpha1=0.3, psi_d=0.25, noise=0.1)
    assert (cfg.exact("alpha1"), cfg.exact("psi_d"), cfg.exact("noise")) == (
        Fraction(3, 10), Fraction(1, 4), Fraction(1, 10))


# -- one rule for numbers: a string is refused everywhere, flags convert theirs ---------------


@pytest.mark.parametrize("field", ["noise", "psi_d", "psi_n", "alpha1", "alpha2", "etabar1",
                                   "etabar2"])
def test_a_numeric_string_is_refused_by_the_api_as_by_config_files(field):
    with pytest.raises(ConfigError, match=f"^{field} must be a number, got '1' .a string.$"):
        ModelConfig(**{field: "1"})
    with pytest.raises(ConfigError, match=f"^{field} must be a number, got '1' .a string; "):
        ModelConfig.from_json(f'{{"{field}": "1"}}')
    assert ModelConfig(**{field: Fraction(1, 4)}) == ModelConfig(**{field: 0.25})


def test_numeric_flags_are_read_as_numbers(capsys):
    from twostep.compare.cli import build_parser
    from twostep.compare.commands._config_args import config_from_args

    args = build_parser().parse_args(["theory", "--alpha1", "0.2", "--alpha2", "1e-1",
                                      "--psi-d", "0.5", "--psi-n", "2", "--eta1", "3",
                                      "--etabar2", "0.5", "--noise", "0.1"])
    assert config_from_args(args) == ModelConfig(alpha1=0.2, alpha2=0.1, psi_d=0.5, psi_n=2.0,
                                                 etabar1=3.0, etabar2=0.5, noise=0.1)
    args = build_parser().parse_args(["theory"])  # the defaults: numbers already
    assert config_from_args(args) == ModelConfig()
    err = one_line(capsys, ["simulate", "--N", "20", "--psi-d", "half"])
    assert "--psi-d must be a number, got 'half'" in err


# -- printed values tell a value from its bound; -0 is 0 ---------------------------------------


def test_number_text_is_the_shortest_round_trip():
    for x in (0.3, 0.45, 0.49999999999999994, 1e-05, 1234567.0, 1e300, 2.0 ** -1074):
        assert float(number_text(x)) == x
    assert [number_text(x) for x in (0.49999999999999994, 0.3, 1.0, -0.0, 1e-05)] == [
        "0.49999999999999994", "0.3", "1", "0", "1e-05"]


def test_minus_zero_is_zero_in_the_config_and_its_key():
    negative = ModelConfig(alpha1=-0.0, noise=-0.0)
    assert math.copysign(1, negative.alpha1) == 1 and math.copysign(1, negative.noise) == 1
    assert negative.key() == ModelConfig(alpha1=0.0, noise=0.0).key()
    assert negative.to_json() == ModelConfig(alpha1=0, noise=0).to_json()


def test_headers_print_the_value_not_its_rounding(capsys):
    code, out, _ = run_cli(capsys, "theory", "--alpha1", "0.49999999999999994", "--alpha2", "-0",
                           "--N", "100")
    assert code == 0 and "alpha=(0.49999999999999994, 0)" in out.splitlines()[0]
    code, out, _ = run_cli(capsys, "simulate", "--N", "20", "--top", "2", "--null-draws", "0",
                           "--alpha1", "0.49999999999999994", "--alpha2", "-0")
    steps = out.splitlines()[1]
    assert code == 0 and "1: alpha=0.49999999999999994 " in steps and "2: alpha=0 " in steps


# -- a spectrum without an edge says so ----------------------------------------------------------


def test_a_spectrum_without_an_edge_says_why(capsys):
    code, out, err = run_cli(capsys, "simulate", "--N", "2", "--top", "1")
    assert code == 0 and "None" not in out, out
    line = next(x for x in out.splitlines() if x.startswith("outliers of W_T - W_{T-1}"))
    assert line.startswith("outliers of W_T - W_{T-1} (edge: not determined: no theoretical "
                           "edge, and the empirical fit failed (only 2 singular values; the fit "
                           "needs >= 8 below the top third); top: ")
    assert "  (not called: no edge to call them above)" in out
    # where an edge is found, the line is as before
    code, out, _ = run_cli(capsys, "simulate", "--N", "40", "--null-draws", "0")
    assert code == 0 and "outliers of W_T - W_{T-1} (edge used: empirical " in out
