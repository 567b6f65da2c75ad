"""Every reply fits in one raw-TCP frame: too large, it is replaced, never dropped.

The 7-byte header announces at most 999999 bytes. Refusals echo only
excerpts (tests/test_compat_erp_integrations.py), so this is the last line
of defence, for both transports alike: the service replaces a reply that
would not fit by P022 when nothing was executed (a refusal, a query), and by
D008 (outcome unknown) when the bank may have executed it — a transfer is
never called refused because its answer was too long to send.
"""

from __future__ import annotations

import re

import pytest

from daemon.erp_framing import MAX_FRAMED_LENGTH
from daemon.service import ErpService
from protocol.events import ErrorMessage, Response
from tests.erp_client import ACNO_1, parse_reply, request_xml, transfer_body


class FakeLink:
    """Answers every request with ``answer(request)``, as the core link would."""

    def __init__(self, answer) -> None:
        self.answer = answer

    async def request(self, request, *, timeout: float):
        return self.answer(request)


def _service(answer) -> ErpService:
    return ErpService(FakeLink(answer), corp_no="0000000001", user_no="001")  # type: ignore


def _account(n: int) -> dict:
    return {"acname": "演示保险有限公司" * 3, "acno": f"31006672601801{n:07d}",
            "cur_code": "CNY", "balance": 100_000_000, "avail_balance": 100_000_000,
            "open_date": "20200101", "acc_type": "01", "open_bank": "Simulated Bank" * 5,
            "err_msg": "", "succ_flag": "0"}


async def test_a_query_answer_too_large_for_a_frame_is_p022():
    service = _service(lambda r: Response(tr_code=r.tr_code, req_no=r.req_no, fields={
        "records": [_account(n) for n in range(8_000)]}))
    xml = await service.handle(request_xml("310101", {"acno": ""}, req_no="BIG-Q"))
    assert len(xml) <= MAX_FRAMED_LENGTH
    reply = parse_reply(xml)
    assert reply.code == "P022" and reply.head["ans_code"] == "1", reply
    assert reply.head["req_no"] == "BIG-Q" and reply.head["tr_code"] == "310101"
    assert re.search(r"reply of \d{7} bytes is over the 999999", reply.info), reply
    assert reply.body == {}


async def test_a_bank_refusal_too_large_for_a_frame_is_p022():
    service = _service(lambda r: ErrorMessage(ret_code="E001", ret_msg="x" * 1_100_000,
                                              req_no=r.req_no))
    reply = parse_reply(await service.handle(
        request_xml("210201", transfer_body("1.00"), req_no="BIG-REFUSAL")))
    assert reply.code == "P022" and reply.head["req_no"] == "BIG-REFUSAL", reply


@pytest.mark.parametrize(("tr_code", "body", "status"), [
    ("210201", transfer_body("1.00"), {"stat": "3"}),
    ("210224", {"pay_acno": ACNO_1, "pay_acname": "Demo", "rcv_acno": "6222020200000000001",
                "rcv_acname": "Zhang San", "partyid": "102100099996", "amt": "1.00"},
     {"tranStatus": "20"}),
])
async def test_an_executed_payment_too_large_to_answer_is_an_unknown_outcome(
        tr_code, body, status, caplog):
    fields = {"stat": "1"} if tr_code == "210201" else {"tran_status": "21"}
    service = _service(lambda r: Response(tr_code=r.tr_code, req_no=r.req_no,
                                          serial_no="2026112400000001",
                                          ret_msg="y" * 1_100_000, fields=fields))
    reply = parse_reply(await service.handle(request_xml(tr_code, body, req_no="BIG-PAY")))
    assert reply.code == "D008" and reply.head["ans_code"] == "2", reply
    assert reply.body == status  # suspicious: query it, never "refused"
    assert "the bank may have executed it" in reply.info
    assert "more than the 999999 a reply can carry" in caplog.text
