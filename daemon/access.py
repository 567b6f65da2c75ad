"""The [bind] allow-list at the door of the ERP listeners: refuse and log strangers."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("directlink.daemon")


class AccessList:
    def __init__(self, allows: Callable[[str], bool]) -> None:
        self.allows = allows  # e.g. config.ini.BindConfig.allows

    def check(self, stream, listener: str) -> str | None:
        """The peer's "host:port" if allowed; None (and a log line) if refused."""
        try:
            host, port = stream.socket.getpeername()[:2]
        except (OSError, AttributeError):
            return "-"
        if self.allows(host):
            return f"{host}:{port}"
        log.warning("%s: refused connection from %s (not in [bind] allow)", listener, host)
        return None
