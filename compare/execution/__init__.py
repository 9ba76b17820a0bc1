"""twostep.compare.execution: execution: cells and grids, the sweep, the store and its leases,
workers, executors, heartbeat and progress, and the file checks (paths)."""
