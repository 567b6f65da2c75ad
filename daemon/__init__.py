"""The client daemon: ERP-facing listeners that forward requests to the bank core."""
