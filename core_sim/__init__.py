"""The simulated bank core: server, transaction handlers, double-entry ledger."""
