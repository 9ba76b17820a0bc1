"""Refusing, before any store or worker exists, the cells ``simulate.run`` would refuse.

:func:`check_run_inputs` runs :func:`twostep.simulate.runner.check_inputs` once per
configuration and run options; :func:`check_cells` adds, once per width and options, the
runner's own plan of the run (``runner.plan_run``: widths, spectrum limit, memory estimate),
and compares its estimated peak memory with the memory available here, naming the sweep's
flags in its advice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError

from .cell import Cell


def _peak_bytes(N: int, d: int, n: int, itemsize: int, options: Mapping[str, Any]) -> int:
    """The estimated peak memory of one run of width N (default block rows): the figure
    ``runner.plan_run`` estimates, from the dimensions (tests size machines with it)."""
    from twostep.simulate import gd, memory

    rows = gd.default_block_rows(N, n, f"float{8 * itemsize}")
    return int(memory.estimate_peak(N, d, n, itemsize, block_rows=rows, top=options["top"],
                                    spectrum=options["spectrum"],
                                    features=options["features"],
                                    terms=options.get("terms", 0))["total"])


def check_run_inputs(runs: Iterable[tuple[ModelConfig, Mapping[str, Any]]], *,
                     here: bool = True) -> None:
    """:func:`twostep.simulate.runner.check_inputs` once per distinct (config, run options):
    what ``twostep simulate`` refuses before drawing, refused (one line) before any store or
    worker exists.  ``here=False`` (the cells run on a dask scheduler's workers) leaves the
    backend to them."""
    from twostep.simulate.inputs import check_inputs

    seen: set[tuple[str, str]] = set()
    functions: set[str] = set()
    for config, options in runs:
        key = (config.key(), json.dumps(dict(options), sort_keys=True, default=str))
        if key in seen:
            continue
        seen.add(key)
        check_inputs(config, _run_options(options, here))
        for role, text in (("activation", config.activation), ("target", config.target)):
            if text not in functions:
                functions.add(text)
                _check_theory_function(role, text)


def _check_theory_function(role: str, text: str) -> None:
    """What ``twostep hermite`` and ``twostep theory`` refuse of a function before any
    evaluation (``exp(z**2)``: ``E[f(z)^2]`` diverges), refused here too: a sweep of it
    would finish its first cells and fail on a larger one.  Under the theory's time budget
    (:data:`twostep.theory.budget.DEFAULT_TIME_BUDGET`)."""
    from twostep.theory.budget import DEFAULT_TIME_BUDGET, time_budget
    from twostep.theory.hermite import check_square_integrable

    try:
        with time_budget(DEFAULT_TIME_BUDGET):
            check_square_integrable(text)
    except ConfigError as err:
        raise ConfigError(f"{role}: {err}") from None


def _run_options(options: Mapping[str, Any], here: bool, **changes: Any) -> Any:
    """The :class:`RunOptions` of a cell's options; not ``here``: the numpy backend."""
    from twostep.simulate.options import RunOptions

    run_options = RunOptions.from_mapping(options)
    if not here:
        changes["backend"] = "numpy"
    return run_options.replace(**changes) if changes else run_options


def _peak(cell: Cell, here: bool, dtype: str | None = None) -> int:
    """The runner's plan of one cell (every check of ``runner.plan_run`` but the memory one);
    its estimated peak memory in bytes (in ``dtype`` if given)."""
    from twostep.simulate.runner import plan_run

    changes: dict[str, Any] = {"allow_memory": True}
    if dtype is not None:
        changes["dtype"] = dtype
    plan = plan_run(cell.config, cell.N, cell.seed, None, _run_options(cell.options, here,
                                                                     **changes))
    return int(plan.estimate["total"])


def check_cells(cells: Iterable[Cell], *, memory: bool = True, dtype_flag: str = "") -> None:
    """Refuse (one line) cells that ``simulate.run`` would refuse, once, before any work.

    Checked before a store is created or a worker started: per configuration and run
    options, what ``twostep simulate`` refuses before drawing
    (:func:`twostep.simulate.runner.check_inputs`: the spectra named, terms with a non-smooth
    activation, an activation or target the backend cannot print or evaluate, an activation
    with a jump or not finite on [-8, 8], a backend that is not installed) and what the
    theory refuses of the functions (not square-integrable: ``exp(z**2)``); per configuration
    and width, the one bound on step sizes (:func:`twostep.theory.steps.check_step_sizes`);
    per width, what
    the runner's plan refuses (``top`` singular values need ``min(N, d) >= top``, named by
    the ``--top`` flag; ``spectrum`` needs ``max(N, d)`` within the dense-SVD limit) and,
    with ``memory`` (the cells run here, not on a dask scheduler's workers), the estimated
    peak memory of one cell (:mod:`twostep.simulate.memory`) must fit in the memory
    available here.  ``dtype_flag`` names the flag that selects float32.
    """
    from twostep.simulate import draws, spectra
    from twostep.simulate import memory as sim_memory
    from twostep.theory.steps import check_step_sizes

    cells = list(cells)
    check_run_inputs(((cell.config, cell.options) for cell in cells), here=memory)
    steps: set[tuple[Any, ...]] = set()
    for cell in cells:  # the one bound on step sizes (twostep.theory.steps), per width
        c = cell.config
        key = (c.etabar1, c.alpha1, c.etabar2, c.alpha2, cell.N)
        if key not in steps:
            steps.add(key)
            check_step_sizes(c, cell.N)
    available = sim_memory.available_bytes() if memory else None
    seen: set[tuple[Any, ...]] = set()
    for cell in cells:
        o = cell.options
        # what the plan's size depends on: every config of these is checked by the first
        # (the checks of the config itself were made above, per config)
        key = (cell.config.psi_d, cell.config.psi_n, cell.N, o["top"], o["dtype"],
               o["spectrum"], o["features"], o["terms"])
        if key in seen:
            continue
        seen.add(key)
        d, _ = draws.dimensions(cell.config, cell.N)
        spectra.check_width(cell.N, d, o["top"], cell.config.psi_d, top_flag="--top")
        total = _peak(cell, memory)
        if available is None or total <= available:
            continue
        hint = "use smaller widths"
        if o["dtype"] != "float32" and dtype_flag and _peak(cell, memory,
                                                            "float32") <= available:
            hint += f" or {dtype_flag} float32"
        raise ConfigError(f"N={cell.N} needs about {sim_memory.format_bytes(total)} per cell "
                          f"(estimated peak) but only {sim_memory.format_bytes(available)} is "
                          f"available; {hint}")
