"""twostep.compare: claims, sweeps, statistics, reports and the CLI, by concern.

- ``science``: the claims, statistics, scaling fits and the core view's rescaling;
- ``execution``: cells, grids, the sweep, the store and its leases, workers, executors,
  heartbeat, progress;
- ``output``: the report, its tables and figures;
- ``plans``: the verify plans and ``check``, the core view, the headline profile, power, fuzz
  and the phase planes, which join the three;
- ``commands``: the command line (``cli`` is its entry point).

The flat paths of 0.3 (``twostep.compare.sweep``...) import with a DeprecationWarning naming
the new one, until 0.5 (docs/reference.md, Moved modules).
"""

from ._moved import install

#: the module paths before 0.4 -> where each module is now
MOVED_MODULES = {
    "twostep.compare.claims": "twostep.compare.science.claims",
    "twostep.compare.rescale": "twostep.compare.science.rescale",
    "twostep.compare.scaling": "twostep.compare.science.scaling",
    "twostep.compare.stats": "twostep.compare.science.stats",
    "twostep.compare.strategies": "twostep.compare.science.strategies",
    "twostep.compare.cell": "twostep.compare.execution.cell",
    "twostep.compare.cell_checks": "twostep.compare.execution.cell_checks",
    "twostep.compare.executors": "twostep.compare.execution.executors",
    "twostep.compare.grid": "twostep.compare.execution.grid",
    "twostep.compare.heartbeat": "twostep.compare.execution.heartbeat",
    "twostep.compare.paths": "twostep.compare.execution.paths",
    "twostep.compare.progress": "twostep.compare.execution.progress",
    "twostep.compare.store": "twostep.compare.execution.store",
    "twostep.compare.store_leases": "twostep.compare.execution.store_leases",
    "twostep.compare.store_paths": "twostep.compare.execution.store_paths",
    "twostep.compare.store_query": "twostep.compare.execution.store_query",
    "twostep.compare.store_schema": "twostep.compare.execution.store_schema",
    "twostep.compare.sweep": "twostep.compare.execution.sweep",
    "twostep.compare.worker": "twostep.compare.execution.worker",
    "twostep.compare.export": "twostep.compare.output.export",
    "twostep.compare.plot_amplitudes": "twostep.compare.output.plot_amplitudes",
    "twostep.compare.plot_beta": "twostep.compare.output.plot_beta",
    "twostep.compare.plot_canvas": "twostep.compare.output.plot_canvas",
    "twostep.compare.plot_claims": "twostep.compare.output.plot_claims",
    "twostep.compare.plot_collapse": "twostep.compare.output.plot_collapse",
    "twostep.compare.plot_outliers": "twostep.compare.output.plot_outliers",
    "twostep.compare.plot_phase": "twostep.compare.output.plot_phase",
    "twostep.compare.plot_report": "twostep.compare.output.plot_report",
    "twostep.compare.plot_seeds": "twostep.compare.output.plot_seeds",
    "twostep.compare.plot_spectrum": "twostep.compare.output.plot_spectrum",
    "twostep.compare.plots": "twostep.compare.output.plots",
    "twostep.compare.report": "twostep.compare.output.report",
    "twostep.compare.report_html": "twostep.compare.output.report_html",
    "twostep.compare.table": "twostep.compare.output.table",
    "twostep.compare.core": "twostep.compare.plans.core",
    "twostep.compare.core_plan": "twostep.compare.plans.core_plan",
    "twostep.compare.fuzz": "twostep.compare.plans.fuzz",
    "twostep.compare.headline": "twostep.compare.plans.headline",
    "twostep.compare.phase": "twostep.compare.plans.phase",
    "twostep.compare.power": "twostep.compare.plans.power",
    "twostep.compare.verify": "twostep.compare.plans.verify",
}

install(MOVED_MODULES)
