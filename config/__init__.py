"""Configuration: the client ini file and the core's YAML seed."""
