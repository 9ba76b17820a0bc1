"""twostep.compare: claims, sweeps, statistics, reports and the CLI."""
