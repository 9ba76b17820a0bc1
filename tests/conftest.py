"""Fixtures shared by the test modules, and one BLAS thread per test process."""

from __future__ import annotations

import os

import pytest
from threadpoolctl import threadpool_limits

#: pytest-xdist runs one test process per core; a multi-threaded OpenBLAS in each of them
#: oversubscribes the cores and spends its time spinning (measured on two cores: eight small
#: simulations took 3.7 s of CPU with one BLAS thread, 10.4 s with two). Each test process,
#: and the processes it starts (the CLI, docs commands), uses one BLAS thread unless the
#: environment chose a number; sweeps still set their workers' own limits.
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
if "OPENBLAS_NUM_THREADS" not in os.environ:
    for _name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(_name, "1")
    threadpool_limits(limits=1, user_api="blas")  # numpy may be loaded already


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh temporary folder that is also the current folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
