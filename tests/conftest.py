"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh temporary folder that is also the current folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
