"""The ``directlink`` subcommands, one module per group."""
