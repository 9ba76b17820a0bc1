"""One module per ``twostep`` subcommand (see ``twostep.compare.cli``)."""
