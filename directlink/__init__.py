"""directlink: bank-enterprise direct connect (an ERP-facing client and a simulated bank core)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("directlink")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
