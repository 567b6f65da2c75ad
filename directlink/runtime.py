"""Process plumbing for the long-running commands: logging, signals, READY lines."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Awaitable, Callable
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
        path.parent.mkdir(parents=True, exist_ok=True)
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


def run_trio(main: Callable[[], Awaitable[None]], what: str) -> None:
    """``trio.run(main)``, turning a failure to listen into a one-line error."""
    try:
        trio.run(main)
    except OSError as exc:
        raise click.ClickException(f"{what}: {exc}") from None
    except BaseExceptionGroup as group:
        os_errors = group.subgroup(OSError)
        if os_errors is None:
            raise
        first = _leaves(os_errors)[0]
        raise click.ClickException(f"{what}: {first}") from None


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found
