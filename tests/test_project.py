"""The project files: packaging metadata, test markers and the Makefile (issue 19 §6)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it():
    # a TOML table is deprecated by setuptools >= 77 (about 40 lines of warnings on install);
    # the SPDX string needs setuptools >= 77 (PEP 639) to build
    assert PYPROJECT["project"]["license"] == "MIT"
    (setuptools,) = [r for r in PYPROJECT["build-system"]["requires"]
                     if r.startswith("setuptools")]
    low = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", setuptools)
    assert low and int(low.group(1)) >= 77
    assert not any("License ::" in c for c in PYPROJECT["project"].get("classifiers", ()))


def test_docs_marker_is_registered_and_left_out_of_the_default_run():
    opts = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert any(m.startswith("docs:") for m in opts["markers"])
    selection = re.search(r"-m '([^']*)'", opts["addopts"]).group(1)
    assert "not docs" in selection and "not slow" in selection


def test_make_docs_check_runs_the_docs_marker():
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^docs-check:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe and "-m docs" in recipe.group(1)
    assert re.search(r"^\.PHONY:.*\bdocs-check\b", text, re.M)
