"""Test against a real directlink: a pytest plugin, a process harness, an ERP client.

* :mod:`directlink.testing.plugin` — the pytest fixtures (``directlink_bank``,
  ``directlink_client``, ``erp``, ``directlink_factory``), registered as the
  ``directlink`` pytest plugin when the package is installed;
* :mod:`directlink.testing.harness` — start and stop a bank core and a client
  daemon as subprocesses (usable without pytest);
* :mod:`directlink.testing.erp` — an ERP's client: raw TCP and HTTP, typed
  helpers for every tr_code, replies parsed to objects.

The names below are imported on first use, so that loading the plugin (which
pytest does in every run) costs nothing until a fixture is used. Guide:
docs/testing-with-directlink.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Bank": "harness", "Client": "harness", "Pair": "harness", "HarnessError": "harness",
    "SeedError": "harness", "start_bank": "harness", "start_client": "harness",
    "start_pair": "harness",
    "ErpClient": "erp", "ErpError": "erp", "Reply": "erp", "new_req_no": "erp",
    "BankApprovals": "approvals", "ApprovalRefused": "approvals",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"directlink.testing.{module}"), name)
