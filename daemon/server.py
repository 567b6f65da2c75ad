"""Assemble and run the client daemon: core link, ERP service, and both listeners."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

import trio

from config.ini import ClientConfig
from daemon.access import AccessList
from daemon.core_link import CoreLink
from daemon.home import make_exchange_folder
from daemon.listeners import ErpListeners, serve_erp_tcp
from daemon.service import ErpService
from protocol.keys import BankPublicKeys, SigningKey
from protocol.session import ClientSession

log = logging.getLogger("directlink.daemon")


@dataclass(frozen=True)
class DaemonAddresses:
    erp_tcp: tuple[str, int]
    erp_http: tuple[str, int]


class Daemon:
    def __init__(
        self,
        config: ClientConfig,
        *,
        signing_key: SigningKey | None,
        bank_keys: BankPublicKeys | None,
        core_host: str | None = None,
        core_port: int | None = None,
        erp_port: int | None = None,
        http_port: int | None = None,
    ) -> None:
        comm = config.communication
        self.config = config
        corp_no, user_no = config.enterprise.corp_no, config.enterprise.user_no

        def new_session() -> ClientSession:
            return ClientSession(corp_no=corp_no, user_no=user_no, signing_key=signing_key,
                                 bank_keys=bank_keys, max_frame=comm.max_frame)

        self.link = CoreLink(
            host=core_host or comm.host,
            port=comm.port if core_port is None else core_port,
            new_session=new_session,
            connect_timeout=comm.connect_timeout,
            heartbeat_interval=comm.heartbeat_interval,
            proxy=(comm.proxy.host, comm.proxy.port) if comm.proxy else None,
        )
        self.service = ErpService(
            self.link,
            corp_no=corp_no,
            user_no=user_no,
            encoding=config.forward.encoding,
            max_request=config.forward.max_request,
            request_timeout=comm.request_timeout,
            files_dir=config.files.dir,
        )
        self.listeners = ErpListeners(self.service, AccessList(config.bind.allows),
                                      client_timeout=config.forward.client_timeout)
        self.erp_port = config.forward.erp_port if erp_port is None else erp_port
        self.http_port = config.forward.http_port if http_port is None else http_port
        self._in_flight = 0

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; ``task_status.started(DaemonAddresses)`` once listening.

        The exchange folder (``[files] dir``) is created first, 0700, if it is
        missing (:class:`~daemon.home.SetupError` if it cannot be).
        """
        make_exchange_folder(self.config)
        listen = self.config.bind.listen
        async with trio.open_nursery() as nursery:
            await nursery.start(self.link.run)
            tcp = await nursery.start(functools.partial(
                serve_erp_tcp, self._tracked(self.listeners.handle_tcp), self.erp_port,
                host=listen))
            http = await nursery.start(functools.partial(
                trio.serve_tcp, self._tracked(self.listeners.handle_http), self.http_port,
                host=listen))
            addresses = DaemonAddresses(tcp[0].getsockname()[:2],
                                        http[0].socket.getsockname()[:2])
            log.info("daemon listening: erp_tcp=%s:%s erp_http=%s:%s, bank at %s:%s",
                     *addresses.erp_tcp, *addresses.erp_http, self.link.host, self.link.port)
            task_status.started(addresses)

    def _tracked(self, handler):
        async def tracked(*connection):
            self._in_flight += 1
            try:
                await handler(*connection)
            except Exception:
                # No ERP input may take a listener down: a bug costs one connection.
                log.exception("ERP connection handler failed")
            finally:
                self._in_flight -= 1
        return tracked

    async def drain(self, timeout: float = 10.0) -> None:
        """Refuse new requests (D009) and give those in flight time to be answered."""
        self.service.accepting = False
        self.link.closing = True
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            await trio.sleep(0.05)
