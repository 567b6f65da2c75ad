"""Process plumbing for the long-running commands: logging, signals, READY lines."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import trio


def setup_logging(log_files: dict[str, Path], *, verbose: bool = False) -> None:
    """Log each named logger to its file (INFO) and everything to stderr (WARNING+)."""
    # The format names none of the caller, thread or process, and the daemon logs a
    # line per ERP request: skip gathering them for every record (the optimisations
    # listed in the logging HOWTO; they save a frame walk and a getpid() per line).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(fmt)
    root.addHandler(console)
    for name, path in log_files.items():
        # Logs name accounts and amounts: private to the owner, like the rest of the home.
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(fmt)
        logging.getLogger(name).addHandler(handler)


def ready(line: str) -> None:
    """Print the READY line: the signal, for scripts, that every listener accepts."""
    print(line, flush=True)


async def run_until_signalled(
    nursery: trio.Nursery,
    on_stop: Callable[[], Awaitable[None]],
    handlers: dict[int, Callable[[], Awaitable[None]]] | None = None,
) -> None:
    """Wait for SIGINT/SIGTERM, run ``on_stop`` (graceful drain), then cancel ``nursery``.

    ``handlers`` maps further signals (e.g. SIGUSR1) to actions run on receipt.
    """
    handlers = handlers or {}
    stops = {signal.SIGINT, signal.SIGTERM}
    with trio.open_signal_receiver(*stops, *handlers) as signals:
        async for signum in signals:
            if signum in stops:
                logging.getLogger("directlink").info("signal %s: shutting down",
                                                     signal.Signals(signum).name)
                break
            try:
                await handlers[signum]()
            except Exception:
                logging.getLogger("directlink").exception("handling signal %s", signum)
    await on_stop()
    nursery.cancel_scope.cancel()


@dataclass(frozen=True)
class Listen:
    """One address a command listens on, for a one-line error when it cannot.

    ``option`` is the command-line option that sets the port (``--erp-port``),
    so the error can say how to pick another one.
    """

    host: str | None
    port: int
    what: str
    option: str

    @property
    def address(self) -> str:
        host = self.host or "*"
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


def run_trio(main: Callable[[], Awaitable[None]], what: str,
             listens: Sequence[Listen] = ()) -> None:
    """``trio.run(main)``, turning a failure to listen into a one-line error.

    trio's bind errors say "Address already in use" without the address, and a
    command may listen on more than one: the error names the one that failed
    (found by trying each of ``listens`` again) and the option that moves it.
    A :class:`click.ClickException` raised inside a nursery comes out as
    itself, not as an exception group's traceback.
    """
    try:
        trio.run(main)
    except OSError as exc:
        raise click.ClickException(_listen_error(what, exc, listens)) from None
    except BaseExceptionGroup as group:
        clicks = group.subgroup(click.ClickException)
        if clicks is not None:
            raise _leaves(clicks)[0] from None
        os_errors = group.subgroup(OSError)
        if os_errors is None:
            raise
        first = _leaves(os_errors)[0]
        raise click.ClickException(_listen_error(what, first, listens)) from None


def listen_error(listen: Listen, exc: OSError, what: str = "") -> str:
    """``cannot listen on HOST:PORT (what): reason; what to do`` on one line."""
    reason = (exc.strerror or str(exc)).lower()
    if exc.errno == errno.EADDRINUSE:
        advice = f"is another directlink running? {listen.option} 0 picks a free port"
    elif exc.errno == errno.EACCES:
        advice = f"ports below 1024 need privileges; {listen.option} 0 picks a free port"
    elif exc.errno == errno.EADDRNOTAVAIL:
        advice = "that address is not one of this host's"
    else:
        advice = f"{listen.option} sets another port"
    prefix = f"{what}: " if what else ""
    return f"{prefix}cannot listen on {listen.address} ({listen.what}): {reason}; {advice}"


def _listen_error(what: str, exc: BaseException, listens: Sequence[Listen]) -> str:
    if isinstance(exc, OSError):
        culprit = listens[0] if len(listens) == 1 else _failing(listens, exc)
        if culprit is not None:
            return listen_error(culprit, exc, what)
    return f"{what}: {exc}"


def _failing(listens: Sequence[Listen], exc: OSError) -> Listen | None:
    """Which of ``listens`` cannot be bound (as trio binds: SO_REUSEADDR), if any."""
    for listen in listens:
        if listen.port and _bind_error(listen) == exc.errno:
            return listen
    return None


def _bind_error(listen: Listen) -> int | None:
    try:
        infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except OSError:
        return None
    for family, type_, proto, _, sockaddr in infos:
        with socket.socket(family, type_, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(sockaddr)
            except OSError as exc:
                return exc.errno
    return None


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found
