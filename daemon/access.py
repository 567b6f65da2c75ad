"""The [bind] allow-list at the door of the ERP listeners: refuse and log strangers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

log = logging.getLogger("directlink.daemon")


class AccessList:
    def __init__(self, allows: Callable[[str], bool]) -> None:
        # e.g. config.ini.BindConfig.allows. The allow-list is fixed while the
        # daemon runs and ERP clients come from a few hosts, so each host's
        # answer is worked out once, not on every connection.
        self.allows = functools.lru_cache(maxsize=1024)(allows)

    def check(self, stream, listener: str) -> str | None:
        """The peer's "host:port" if allowed; None (and a log line) if refused."""
        try:
            address = stream.socket.getpeername()
        except (OSError, AttributeError):
            return "-"
        return self.check_address(address, listener)

    def check_address(self, address, listener: str) -> str | None:
        """:meth:`check` for a peer address as ``accept()`` returns it."""
        host, port = address[:2]
        if self.allows(host):
            return f"{host}:{port}"
        log.warning("%s: refused connection from %s (not in [bind] allow)", listener, host)
        return None
