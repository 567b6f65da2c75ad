"""Non-blocking stdlib sockets driven by trio's low-level waits, for the hot paths.

The daemon pays for every trio scheduling round on its two busiest paths:
the ERP's one-request connections and the multiplexed link to the core. A
``trio.SocketStream`` yields to the scheduler on every send and receive, even
when the socket is ready. Here the operation is tried first and the task
waits (``wait_readable``/``wait_writable``) only when the kernel says it
would block. A loop that receives must still let others run, so
:func:`receive` checkpoints after data unless told the caller awaits
something else soon anyway.

Failures are the stdlib's: ``OSError`` (``ConnectionResetError``,
``BrokenPipeError``, ...). A socket that another task may be waiting on
must be closed with :func:`close`, which tells trio first; a task that is
a socket's only user may close it directly between operations.
"""

from __future__ import annotations

import socket

import trio

RECEIVE_SIZE = 65536


def adopt(stream: trio.SocketStream | trio.SocketListener) -> socket.socket:
    """Take the socket out of a trio stream or listener, as a non-blocking stdlib socket."""
    sock = socket.socket(fileno=stream.socket.detach())
    sock.setblocking(False)
    return sock


def receive_now(sock: socket.socket) -> bytes | None:
    """Up to RECEIVE_SIZE bytes already there (``b""`` at EOF), or None if none yet."""
    try:
        return sock.recv(RECEIVE_SIZE)
    except BlockingIOError:
        return None


async def receive(sock: socket.socket, *, checkpoint: bool = True) -> bytes:
    """Up to RECEIVE_SIZE bytes; ``b""`` at EOF. Waits only if nothing is there yet."""
    while (data := receive_now(sock)) is None:
        await trio.lowlevel.wait_readable(sock)
    if checkpoint:
        await trio.lowlevel.checkpoint()
    return data


def send_now(sock: socket.socket, data: bytes | memoryview) -> int:
    """Send what the socket takes without waiting; the number of bytes sent (maybe 0)."""
    try:
        return sock.send(data)
    except BlockingIOError:
        return 0


async def send_all(sock: socket.socket, data: bytes | memoryview) -> None:
    """Send all of ``data``, waiting for room only when the socket buffer is full."""
    view = memoryview(data)
    while view:
        sent = send_now(sock, view)
        if sent:
            view = view[sent:]
        else:
            await trio.lowlevel.wait_writable(sock)


def close(sock: socket.socket) -> None:
    """Close a socket that tasks may be waiting on (they get ClosedResourceError)."""
    trio.lowlevel.notify_closing(sock)
    sock.close()
