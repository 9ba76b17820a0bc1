"""twostep.compare.output: output: the report, its tables and its figures."""
