"""The bank's ledger in a process of its own, and the trio side that drives it.

The core's server process spends its CPU on the wire protocol (signature
checks, decryption, encoding); the ledger spends its CPU on SQL. In one
process both compete for one interpreter lock, and the hand-offs between the
event loop and a worker thread cost more than the work itself. So ``directlink
core serve`` runs :class:`~core_sim.bank.Bank` in a child process (``python -m
core_sim.bank_process``) and talks to it over a socket pair: one batch of
requests in, its replies out, after the batch's COMMIT — acknowledged still
means durable, and the single writer keeps group commit and exactly-once in
one place.

The channel carries length-prefixed pickles between a parent and the child it
started itself: ``(operation, arguments)`` one way, ``("ok", result)`` or
``("error", text)`` back, one call at a time. The child's first message is a
greeting with the bank's operators (the handshake checks them without a round
trip).

The child must not outlive the server (a ``kill -9`` of the core must leave
nothing running against the ledger): on Linux it asks the kernel to kill it
when its parent dies, and everywhere it exits when the socket reaches EOF. If
the child dies, the batch it held is answered "outcome unknown" by the server
(SQLite rolled back whatever it had not committed) and the next call starts a
new child.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import trio

from config.files import create_private
from core_sim.transaction import Reply, Request

log = logging.getLogger("directlink.core.ledger")

_LENGTH = struct.Struct(">I")
_MAX_MESSAGE = 256 << 20  # a batch of 256 requests is far below this
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 10.0


class BankProcessError(RuntimeError):
    """The ledger process failed the call, or died during it: the outcome is unknown."""


# -- the server's side ---------------------------------------------------------------


class BankProcess:
    """Drive a :class:`~core_sim.bank.Bank` that runs in a child process.

    Offers what the server needs of a bank, as coroutines: ``execute_batch``,
    ``run_clearing``, ``end_of_day``; and ``has_operator`` (synchronous, from
    the greeting). Call :meth:`start` inside trio before use and
    :meth:`aclose` at the end. Calls are serialised: one batch at a time.
    """

    def __init__(self, ledger: Path, *, log_file: Path | None = None,
                 journal: Path | None = None, keys: Path | None = None) -> None:
        self.ledger = Path(ledger)
        self.log_file = log_file
        self.journal = journal
        self.keys = keys  # the bank's key file: e-receipts are signed with it
        self._lock = trio.Lock()
        self._proc: subprocess.Popen | None = None
        self._stream: trio.SocketStream | None = None
        self._buffer = bytearray()
        self._operators: frozenset[tuple[str, str]] = frozenset()
        self.commits = 0  # batches committed, for tests and benchmarks
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        async with self._lock:
            if self._stream is None:
                await self._spawn()

    async def aclose(self) -> None:
        async with self._lock:
            with trio.CancelScope(shield=True):
                await self._stop()

    def has_operator(self, corp_no: str, user_no: str) -> bool:
        return (corp_no, user_no) in self._operators

    async def execute_batch(self, requests: Sequence[Request]) -> list[Reply]:
        rows = [(r.corp_no, r.user_no, r.tr_code, r.req_no, r.fields, r.frag_no, r.more)
                for r in requests]
        replies = await self._call("execute_batch", rows)
        self.commits += 1
        return [Reply(*reply) for reply in replies]

    async def run_clearing(self, *, force_batch: bool = False, scheduled: bool = False):
        return await self._call("run_clearing", force_batch, scheduled)

    async def run_batches(self):
        """Execute the next chunk of batch items (see Bank.run_batches)."""
        return await self._call("run_batches")

    async def end_of_day(self):
        return await self._call("end_of_day")

    # -- plumbing ----------------------------------------------------------------------

    async def _call(self, operation: str, *args):
        async with self._lock:
            # Once a batch is sent it must be answered (or its outcome declared unknown);
            # abandoning it halfway would leave its reply to be read by the next call.
            with trio.CancelScope(shield=True):
                if self._stream is None or self._proc is None or self._proc.poll() is not None:
                    await self._restart()
                assert self._stream is not None
                try:
                    await self._stream.send_all(_frame((operation, args)))
                    status, result = await self._receive()
                except (OSError, trio.BrokenResourceError, trio.ClosedResourceError,
                        EOFError) as exc:
                    log.error("ledger process %s died during %s: %s", self.pid, operation, exc)
                    await self._stop()
                    raise BankProcessError(f"the ledger process died during {operation}") \
                        from None
        if status != "ok":
            raise BankProcessError(result)
        return result

    async def _restart(self) -> None:
        if self._proc is not None:
            log.error("ledger process %s exited (%s); starting a new one", self._proc.pid,
                      self._proc.poll())
            await self._stop()
            self.restarts += 1
        await self._spawn()

    async def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            args = [sys.executable, "-m", "core_sim.bank_process", "--fd",
                    str(theirs.fileno()), "--parent", str(os.getpid()), str(self.ledger)]
            if self.log_file is not None:
                args += ["--log-file", str(self.log_file)]
            if self.journal is not None:
                args += ["--journal", str(self.journal)]
            if self.keys is not None:
                args += ["--keys", str(self.keys)]
            self._proc = subprocess.Popen(args, pass_fds=[theirs.fileno()],
                                          stdin=subprocess.DEVNULL)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
        self._buffer.clear()
        try:
            with trio.fail_after(_START_TIMEOUT):
                status, greeting = await self._receive()
        except (trio.TooSlowError, OSError, trio.BrokenResourceError, EOFError) as exc:
            await self._stop()
            raise BankProcessError(f"the ledger process did not start: {exc!r}") from None
        if status != "ok":
            await self._stop()
            raise BankProcessError(f"the ledger process did not start: {greeting}")
        self._operators = frozenset(greeting["operators"])
        log.info("ledger process %s serving %s", self._proc.pid, self.ledger)

    async def _stop(self) -> None:
        proc, stream = self._proc, self._stream
        self._proc = self._stream = None
        if stream is not None:
            await trio.aclose_forcefully(stream)  # EOF: the child finishes and exits
        if proc is not None:
            with trio.move_on_after(_STOP_TIMEOUT):
                await trio.to_thread.run_sync(proc.wait)
            if proc.poll() is None:
                log.error("ledger process %s did not exit; killing it", proc.pid)
                proc.kill()
                await trio.to_thread.run_sync(proc.wait)

    async def _receive(self):
        assert self._stream is not None
        while True:
            message = _unframe(self._buffer)
            if message is not None:
                return message
            data = await self._stream.receive_some(1 << 16)
            if not data:
                raise EOFError("the ledger process closed its end")
            self._buffer += data


def _frame(message) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


def _unframe(buffer: bytearray):
    """Take one message off the front of ``buffer``; None if it is not all there yet."""
    if len(buffer) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack_from(buffer)
    if length > _MAX_MESSAGE:
        raise OSError(f"ledger channel message of {length} bytes")
    end = _LENGTH.size + length
    if len(buffer) < end:
        return None
    message = pickle.loads(memoryview(buffer)[_LENGTH.size:end])
    del buffer[:end]
    return message


# -- the child's side ----------------------------------------------------------------


def serve(sock: socket.socket, ledger: Path, journal: Path | None = None,
          keys: Path | None = None) -> None:
    """Answer the parent's calls on ``sock`` until it closes; the child's main loop."""
    from core_sim.bank import Bank, china_time
    from protocol.keys import BankKeyPair

    receipt_keys = None if keys is None else BankKeyPair.from_pem(keys.read_bytes(), None)
    with Bank.open(ledger, clock=china_time, journal=journal,
                   receipt_keys=receipt_keys) as bank:
        operations = {
            "execute_batch": lambda rows: [
                (reply.ret_code, reply.ret_msg, reply.serial_no, reply.fields, reply.sent,
                 reply.delay_ms)
                for reply in bank.execute_batch([Request(*row) for row in rows])],
            "run_clearing": lambda force_batch, scheduled: bank.run_clearing(
                force_batch=force_batch, scheduled=scheduled),
            "end_of_day": bank.end_of_day,
            "run_batches": bank.run_batches,
        }
        sock.sendall(_frame(("ok", {"operators": sorted(bank.operators())})))
        buffer = bytearray()
        while True:
            message = _unframe(buffer)
            if message is None:
                data = sock.recv(1 << 16)
                if not data:
                    return
                buffer += data
                continue
            operation, args = message
            try:
                answer = ("ok", operations[operation](*args))
            except Exception as exc:
                log.exception("ledger call %s failed", operation)
                answer = ("error", f"{type(exc).__name__}: {exc}")
            sock.sendall(_frame(answer))


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux); else rely on EOF."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m core_sim.bank_process",
                                     description="The bank core's ledger process.")
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--log-file", type=Path)
    parser.add_argument("--journal", type=Path)
    parser.add_argument("--keys", type=Path)
    options = parser.parse_args(argv)
    _die_with_parent(options.parent)
    # The server handles SIGINT/SIGTERM and then closes the channel; a Ctrl-C that
    # reaches the whole process group must not cut a batch short here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if options.log_file is not None:
        # The log names accounts and amounts: made 0600 here if the server has not yet.
        create_private(options.log_file)
        handler = logging.FileHandler(options.log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    sock = socket.socket(fileno=options.fd)
    try:
        serve(sock, options.ledger, options.journal, options.keys)
    except Exception as exc:
        log.exception("ledger process failed")
        with contextlib.suppress(OSError):
            sock.sendall(_frame(("error", f"{type(exc).__name__}: {exc}")))
        raise SystemExit(1) from None
    finally:
        sock.close()


if __name__ == "__main__":
    main()
