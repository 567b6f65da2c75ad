"""directlink: bank-enterprise direct connect (an ERP-facing client and a simulated bank core)."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # The version is looked up on first use: importlib.metadata costs 30-50 ms at
    # every start of every directlink process, and only --version needs it.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    global __version__
    try:
        __version__ = version("directlink")
    except PackageNotFoundError:  # running from a source tree that is not installed
        __version__ = "0.0.0"
    return __version__
