"""A peer that sends its last messages and closes at once: nothing it sent is lost."""

from __future__ import annotations

import pytest

from protocol import codes
from protocol.errors import DecodeError
from protocol.events import NEED_DATA, Request
from protocol.session import State
from tests.test_protocol_session import connect, sample_request


def test_frames_before_the_close_are_still_delivered():
    pair = connect()
    sent = [sample_request("210201", req_no=f"R{i}") for i in range(3)]
    for request in sent:
        pair.client.send(request)
    pair.server.receive_data(pair.client.data_to_send())
    pair.server.receive_data(b"")  # the client closed right after sending
    received = [pair.server.next_event() for _ in range(3)]
    assert [r.req_no for r in received] == ["R0", "R1", "R2"]
    assert all(isinstance(r, Request) for r in received)
    assert pair.server.next_event() is NEED_DATA
    assert pair.server.state is State.CLOSED


def test_a_partial_frame_at_the_close_is_still_an_error():
    pair = connect()
    pair.client.send(sample_request("210201", req_no="R0"))
    pair.client.send(sample_request("210201", req_no="R1"))
    data = pair.client.data_to_send()
    pair.server.receive_data(data[:-5])
    with pytest.raises(DecodeError, match="middle of a frame") as caught:
        pair.server.receive_data(b"")
    assert caught.value.code is codes.MALFORMED_FRAME
    assert pair.server.state is State.ERROR
