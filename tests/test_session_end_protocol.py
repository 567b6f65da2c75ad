"""In memory: when the receiving side ends, what the sending side may still send.

``their_state`` ends (CLOSED at the peer's EOF, ERROR at a fatal error) while
``our_state`` stays ESTABLISHED for the answers owed to requests received
before the end; the error reporting a failure goes out last and closes it.
"""

from __future__ import annotations

import pytest

from protocol import codes
from protocol.errors import AuthenticationError, DecodeError, LocalProtocolError
from protocol.events import ErrorMessage, Heartbeat, Request, Response
from protocol.header import MessageType
from protocol.session import State
from tests.test_protocol_session import (
    connect,
    events_of,
    forge,
    sample_request,
    sample_response,
)


def refusal(exc) -> ErrorMessage:
    return ErrorMessage(ret_code=exc.code.code, ret_msg=exc.public_message)


def test_after_the_peers_close_the_requests_it_sent_are_still_answered():
    pair = connect()
    for req_no in ("R1", "R2"):
        pair.client.send(sample_request("210201", req_no))
    pair.server.receive_data(pair.client.data_to_send())
    pair.server.receive_data(b"")  # the client shut down its sending side
    assert [e.req_no for e in events_of(pair.server, b"")] == ["R1", "R2"]
    assert pair.server.their_state is State.CLOSED
    assert pair.server.our_state is State.ESTABLISHED
    assert pair.server.end_reason == "the peer closed the connection"
    assert pair.server.owes("R1") and pair.server.can_answer("R2")

    pair.server.send(sample_response("210201", "R1"))
    assert pair.server.our_state is State.ESTABLISHED  # R2 is still owed
    pair.server.send(ErrorMessage(ret_code="P020", ret_msg="bank fault", req_no="R2"))
    assert pair.server.our_state is State.CLOSED  # nothing is owed any more
    received = pair.to_client()
    assert received == [sample_response("210201", "R1"),
                        ErrorMessage(ret_code="P020", ret_msg="bank fault", req_no="R2")]


def test_after_the_peers_close_nothing_but_owed_answers_is_sent():
    pair = connect()
    pair.client.send(sample_request("210201", "R1"))
    pair.to_server()
    pair.server.receive_data(b"")
    events_of(pair.server, b"")
    with pytest.raises(LocalProtocolError, match=r"no request 'R9' is waiting.*peer closed"):
        pair.server.send(sample_response("210201", "R9"))
    with pytest.raises(LocalProtocolError, match="cannot send Heartbeat"):
        pair.server.send(Heartbeat())
    assert pair.server.data_to_send() == b""
    pair.server.send(sample_response("210201", "R1"))
    with pytest.raises(LocalProtocolError, match="cannot send Response in state CLOSED"):
        pair.server.send(sample_response("210201", "R1"))  # answered once, not twice
    assert pair.to_client() == [sample_response("210201", "R1")]


def test_a_frame_received_twice_ends_receiving_but_the_first_copy_is_answered():
    pair = connect()
    pair.client.send(sample_request("210201", "R1"))
    data = pair.client.data_to_send()
    pair.server.receive_data(data + data)  # the same frame twice
    assert pair.server.next_event() == sample_request("210201", "R1")
    with pytest.raises(AuthenticationError) as caught:
        pair.server.next_event()
    assert "replayed" in caught.value.reason
    assert pair.server.their_state is State.ERROR and pair.server.state is State.ERROR
    assert pair.server.our_state is State.ESTABLISHED
    assert pair.server.end_reason == "protocol error P010"

    # The answer first, then the refusal as the last message.
    pair.server.send(sample_response("210201", "R1"))
    pair.server.send_error(refusal(caught.value))
    assert pair.server.our_state is State.CLOSED
    assert pair.to_client() == [sample_response("210201", "R1"),
                                ErrorMessage(ret_code="P010", ret_msg="authentication failed")]
    assert pair.client.their_state is State.ESTABLISHED  # it takes both, in sequence


def test_the_refusal_sent_first_is_the_last_word_and_gives_up_what_was_owed():
    pair = connect()
    pair.client.send(sample_request("210201", "R1"))
    data = pair.client.data_to_send()
    with pytest.raises(AuthenticationError):
        events_of(pair.server, data + data)
    pair.server.send_error(ErrorMessage(ret_code="P010", ret_msg="authentication failed"))
    assert pair.server.our_state is State.CLOSED and not pair.server.owes("R1")
    with pytest.raises(LocalProtocolError, match=r"state CLOSED.*protocol error P010"):
        pair.server.send(sample_response("210201", "R1"))


def test_a_close_in_the_middle_of_a_frame_still_lets_earlier_requests_be_answered():
    pair = connect()
    pair.client.send(sample_request("210201", "R1"))
    pair.client.send(sample_request("210201", "R2"))
    data = pair.client.data_to_send()
    pair.server.receive_data(data[:-5])
    assert [e.req_no for e in events_of(pair.server, b"")] == ["R1"]
    with pytest.raises(DecodeError, match="middle of a frame"):
        pair.server.receive_data(b"")
    assert pair.server.their_state is State.ERROR
    pair.server.send(sample_response("210201", "R1"))
    assert pair.server.our_state is State.CLOSED
    assert pair.to_client() == [sample_response("210201", "R1")]


def test_an_undecodable_request_is_owed_its_error():
    pair = connect()
    forge(pair.client, MessageType.REQUEST, b"not a body", tr_code="310101", req_no="R1")
    with pytest.raises(DecodeError) as caught:
        pair.to_server()
    assert not caught.value.fatal and pair.server.owes("R1")
    pair.server.receive_data(b"")
    assert pair.server.our_state is State.ESTABLISHED
    pair.server.send_error(ErrorMessage(ret_code=caught.value.code.code,
                                        ret_msg=caught.value.public_message, req_no="R1"))
    assert pair.server.our_state is State.CLOSED


def test_segments_of_one_batch_are_each_owed_an_answer():
    pair = connect()
    fields = sample_request("330002").fields
    for frag_no, more in ((1, True), (2, False)):
        pair.client.send(Request(tr_code="330002", req_no="B1", fields=fields,
                                 frag_no=frag_no, more=more))
    pair.to_server()
    pair.server.receive_data(b"")
    events_of(pair.server, b"")
    for frag_no in (1, 2):
        assert pair.server.can_answer("B1")
        pair.server.send(Response(tr_code="330002", req_no="B1", frag_no=frag_no,
                                  fields=sample_response("330002").fields))
    assert pair.server.our_state is State.CLOSED


def test_a_client_whose_bank_closed_sends_no_new_request():
    pair = connect()
    pair.client.receive_data(b"")
    assert pair.client.their_state is State.CLOSED
    assert pair.client.our_state is State.CLOSED  # a client owes the bank nothing
    with pytest.raises(LocalProtocolError, match="cannot send Request in state CLOSED"):
        pair.client.send(sample_request("310101"))
    pair.client.send(ErrorMessage(ret_code=codes.MALFORMED_FRAME.code, ret_msg="bye"))
    assert pair.client.data_to_send()  # an error may still be said


def test_without_the_end_answers_are_not_restricted():
    # While both directions are open nothing is checked against what is owed: a
    # bank may answer a req_no again (a retry's original answer) as it always could.
    pair = connect()
    pair.client.send(sample_request("210201", "R1"))
    pair.to_server()
    pair.server.send(sample_response("210201", "R1"))
    pair.server.send(sample_response("210201", "R1"))
    assert len(pair.to_client()) == 2
