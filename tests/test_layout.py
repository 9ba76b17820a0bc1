"""compare/ laid out by concern, one import path per name, and the facade ``import twostep``.

- compare/'s top level holds the entry points and the folders (science, execution, output,
  plans, commands) only;
- every 0.3 module path still imports, warns (DeprecationWarning naming the new path) and gives
  the new module itself (no second copy: a class is the same class either way);
- no module re-exports a name with ``noqa: F401``; a name that moved is read through the
  module's ``__getattr__`` with a warning naming where it lives now;
- docs/reference.md lists every moved module and name;
- ``import twostep as ts`` gives the names of the README's example, lazily.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import twostep
from twostep.compare import MOVED_MODULES

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"science", "execution", "output", "plans", "commands"}
TOP_FILES = {"__init__.py", "__main__.py", "cli.py", "_moved.py"}


def test_compare_top_level_is_the_folders_and_the_entry_points():
    entries = {p.name for p in (ROOT / "compare").iterdir() if p.name != "__pycache__"}
    assert entries == FOLDERS | TOP_FILES, sorted(entries ^ (FOLDERS | TOP_FILES))
    for folder in FOLDERS:
        assert (ROOT / "compare" / folder / "__init__.py").is_file(), folder


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_an_old_path_warns_and_gives_the_new_module(old):
    new = importlib.import_module(MOVED_MODULES[old])
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=re.escape(MOVED_MODULES[old])):
        module = importlib.import_module(old)
    assert module is new


def test_a_submodule_of_a_moved_package_is_the_same_module():
    from twostep.compare.science.claims import base

    sys.modules.pop("twostep.compare.claims", None)
    sys.modules.pop("twostep.compare.claims.base", None)
    with pytest.warns(DeprecationWarning, match="twostep.compare.science.claims"):
        old = importlib.import_module("twostep.compare.claims.base")
    assert old is base
    assert old.Claim is base.Claim


def test_python_dash_m_on_an_old_path_runs_the_new_module():
    out = subprocess.run([sys.executable, "-m", "twostep.compare.phase", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode in (0, 2), out.stderr
    assert "phase" in (out.stdout + out.stderr).lower()


def _module_level_noqa_reexports() -> list[str]:
    found = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        if path.parts[len(ROOT.parts)] not in ("theory", "simulate", "compare", "api"):
            continue
        lines = path.read_text(encoding="utf-8").split("\n")
        for node in ast.parse("\n".join(lines)).body:
            if isinstance(node, ast.ImportFrom):
                text = "\n".join(lines[node.lineno - 1:node.end_lineno])
                if "noqa: F401" in text:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_module_re_exports_without_a_warning():
    assert _module_level_noqa_reexports() == []


def _moved_names() -> dict[str, dict[str, str]]:
    """module -> {name: new module} from the ``moved_names`` maps in the source."""
    out = {}
    for path in sorted(ROOT.glob("*/**/*.py")):
        if path.parts[len(ROOT.parts)] not in ("theory", "simulate", "compare"):
            continue
        text = path.read_text(encoding="utf-8")
        m = re.search(r"__getattr__ = moved_names\(__name__, \{\n(.*?)\}\)", text, re.S)
        if m:
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            module = "twostep." + ".".join(p for p in parts if p != "__init__")
            out[module] = dict(re.findall(r'"(\w+)": "([\w.]+)"', m.group(1)))
    return out


MOVED_NAMES = _moved_names()


@pytest.mark.parametrize("module,name", [(m, n) for m, names in MOVED_NAMES.items()
                                         for n in names])
def test_a_moved_name_warns_and_is_the_same_object(module, name):
    new = getattr(importlib.import_module(MOVED_NAMES[module][name]), name)
    with pytest.warns(DeprecationWarning, match=re.escape(MOVED_NAMES[module][name])):
        old = getattr(importlib.import_module(module), name)
    assert old is new


def test_an_unknown_name_is_still_an_attribute_error():
    module = importlib.import_module(next(iter(MOVED_NAMES)))
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_reference_lists_every_moved_module_and_name():
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    missing = [old for old in MOVED_MODULES if f"`{old}`" not in text]
    missing += [f"{m}.{n}" for m, names in MOVED_NAMES.items() for n in names
                if f"`{m}.{n}`" not in text]
    assert not missing, missing


FACADE = ["ModelConfig", "predict", "run", "check", "verify", "Claim", "ExponentClaim",
          "LimitClaim", "OutlierCount", "TermAmplitudeClaim", "Verdict", "Store"]


@pytest.mark.parametrize("name", FACADE)
def test_the_facade_gives_the_defining_object(name):
    obj = getattr(twostep, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the facade uses the new paths
        home = importlib.import_module(obj.__module__)
    assert getattr(home, name) is obj
    assert name in dir(twostep)


def test_import_twostep_is_light():
    code = ("import sys, twostep; heavy = [m for m in ('numpy', 'scipy', 'sympy', "
            "'twostep.simulate.runner') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_facade_refuses_an_unknown_name_in_one_line():
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        twostep.no_such_thing  # noqa: B018



def test_the_readme_python_example_is_the_facade_in_six_lines():
    """README's "In Python" block: ``import twostep as ts`` and six lines in all, reading every
    name through ``ts.`` (no other import of the package)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## In Python"):]
    block = section[section.index("```python\n") + len("```python\n"):]
    lines = [ln for ln in block[:block.index("```")].splitlines() if ln.strip()]
    assert lines[0] == "import twostep as ts", lines[0]
    assert len(lines) == 6, lines
    assert not [ln for ln in lines[1:] if re.search(r"^\s*(from|import)\s", ln)], lines
