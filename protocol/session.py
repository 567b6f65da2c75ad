"""Client and server session state machines (sans-I/O).

The caller feeds received bytes with :meth:`receive_data`, takes events with
:meth:`next_event` until it returns :data:`NEED_DATA`, queues events with
:meth:`send`, and writes whatever :meth:`data_to_send` returns. No sockets,
no clock and no randomness of its own: ``clock`` and ``random`` are injected.

Each direction has a state of its own, as in h11: ``their_state`` for what
the peer sends us, ``our_state`` for what we send. ::

    client: IDLE --start()--> HANDSHAKING --HA--> ESTABLISHED
    server: IDLE --HS--> ESTABLISHED
    their_state: any --EOF--> CLOSED;  any --error received or raised--> CLOSED / ERROR
    our_state:   ESTABLISHED --receiving has ended and no reply is owed--> CLOSED

A :class:`RemoteProtocolError` from :meth:`next_event` whose ``fatal`` is true
ends the receiving side (``their_state`` ERROR): no more events. A non-fatal
one (an authenticated request whose body does not decode, or names an unknown
tr_code) leaves the session usable: answer it with an :class:`ErrorMessage`
for its ``req_no``.

The receiving side ending does not end the sending side at once. A bank owes
an answer to every request it has handed out, and the peer that closed its
half of the connection, or whose next frame was replayed, still reads what
was sent before: requests authenticated before the end were genuine. So after
``their_state`` leaves ESTABLISHED, ``our_state`` stays ESTABLISHED for
exactly those answers (a :class:`Response` or an :class:`ErrorMessage` naming
an owed ``req_no``); nothing else is sent except errors, and once nothing is
owed ``our_state`` is CLOSED. The error that reports a fatal failure goes out
last (:meth:`send_error` is allowed in any state): an error naming no owed
request, sent after the receiving side ended, ends the sending side too, and
the answers still owed at that point are given up.

The two ends live in :mod:`protocol.session_client` and
:mod:`protocol.session_server`, their common part in
:mod:`protocol.session_base`; this module is where callers import them from.
"""

from __future__ import annotations

from protocol.events import NEED_DATA, NeedData
from protocol.session_base import DEFAULT_TIME_WINDOW, HANDSHAKE_SIZE, State
from protocol.session_client import ClientSession
from protocol.session_server import ServerSession

__all__ = ["DEFAULT_TIME_WINDOW", "HANDSHAKE_SIZE", "NEED_DATA", "ClientSession", "NeedData",
           "ServerSession", "State"]
