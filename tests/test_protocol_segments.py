"""Batch segments on the wire: numbered requests and answers, in memory, no sockets."""

from __future__ import annotations

import pytest

from protocol import codes
from protocol.bodies import CODECS, REQUEST, SEGMENT_ITEMS
from protocol.errors import DecodeError, LocalProtocolError
from protocol.events import MAX_FRAG_NO, Request, Response
from protocol.framing import DEFAULT_MAX_FRAME
from protocol.header import Header, MessageType
from tests.test_protocol_session import (
    BATCH_STATUS_SAMPLE,
    SAMPLE_FIELDS,
    connect,
    events_of,
    forge,
    split_frames,
)


def _segment(frag_no: int, more: bool, items: int = 2) -> Request:
    fields = dict(SAMPLE_FIELDS[("330002", REQUEST)])
    item = fields["items"][0]
    fields["items"] = [{**item, "busino": f"P{frag_no:04d}{i:05d}"} for i in range(items)]
    return Request(tr_code="330002", req_no="PAYROLL202611", fields=fields, frag_no=frag_no,
                   more=more)


def test_segments_carry_their_number_and_more_flag_both_ways():
    pair = connect()
    for frag_no, more in ((1, True), (2, True), (3, False)):
        pair.client.send(_segment(frag_no, more))
    data = pair.client.data_to_send()
    headers = [Header.parse(message) for message in split_frames(data)]
    assert [(h.frag_no, h.more_flag) for h in headers] == [(1, "1"), (2, "1"), (3, "0")]
    received = events_of(pair.server, data)
    assert [(r.frag_no, r.more) for r in received] == [(1, True), (2, True), (3, False)]
    assert received[2].fields["items"][1]["busino"] == "P000300001"
    for request in received:
        pair.server.send(Response(tr_code="330002", req_no=request.req_no,
                                  fields=BATCH_STATUS_SAMPLE, frag_no=request.frag_no))
    answers = pair.to_client()
    assert [a.frag_no for a in answers] == [1, 2, 3]
    assert answers[0].fields["ok_amt"] == BATCH_STATUS_SAMPLE["ok_amt"]


def test_a_full_segment_fits_one_frame_with_room_to_spare():
    # The widest segment: SEGMENT_ITEMS items with every text field at its full width.
    fields = dict(SAMPLE_FIELDS[("330010", REQUEST)])
    item = {"pay_acno": "9" * 32, "pay_acname": "张" * 30, "agreement_no": "A" * 20,
            "amt": 10 ** 15, "busino": "B" * 20, "pay_bank_no": "1" * 12}
    fields["items"] = [item] * SEGMENT_ITEMS
    body = CODECS[("330010", REQUEST)].encode(fields)
    assert len(body) < DEFAULT_MAX_FRAME // 2


@pytest.mark.parametrize("frag_no", [-1, MAX_FRAG_NO + 1])
def test_segment_numbers_out_of_range_are_refused_before_sending(frag_no):
    with pytest.raises(LocalProtocolError):
        _segment(frag_no, True)


def test_a_segment_of_a_code_that_is_not_a_batch_is_refused_locally():
    with pytest.raises(LocalProtocolError, match="not sent in segments"):
        Request(tr_code="210201", req_no="R1", fields={}, frag_no=1)
    with pytest.raises(LocalProtocolError):
        Request(tr_code="330002", req_no="R1", fields={}, frag_no=0, more=True)


def test_a_received_segment_of_another_code_is_malformed():
    pair = connect()
    forge(pair.client, MessageType.REQUEST, b"", tr_code="310101", req_no="R1", frag_no=2,
          more_flag="1")
    with pytest.raises(DecodeError, match="marked as a segment") as caught:
        pair.to_server()
    assert caught.value.code is codes.MALFORMED_FRAME


def test_a_received_batch_request_with_more_flag_but_no_number_is_malformed():
    pair = connect()
    body = CODECS[("330002", REQUEST)].encode(_segment(1, True).fields)
    forge(pair.client, MessageType.REQUEST, body, tr_code="330002", req_no="R1", frag_no=0,
          more_flag="1")
    with pytest.raises(DecodeError, match="marked as a segment"):
        pair.to_server()
