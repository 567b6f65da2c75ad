"""310240, the enterprise's audit log, end to end through ``directlink up``.

One ``up`` process serves the module, from the manual's four-band example
(etc/seed-controls.yaml), ports 0: an ERP sends an instruction that waits
for approval and one the bank refuses, a teller changes the enterprise's
operators at the bank counter while the core runs, and the ERP reads it all
back with 310240, over raw TCP and HTTP, through the real daemon (signed and
encrypted) to the real core.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.erp_client import (
    ACNO_1,
    ACNO_2,
    REPO,
    Running,
    cli,
    request_xml,
    running_up,
    send_http,
    send_tcp,
    transfer_body,
    unique_req_no,
)

CORP = "0000000001"
SEED = REPO / "etc" / "seed-controls.yaml"


@dataclass
class Reply:
    head: dict[str, str]
    body: dict[str, str]
    records: list[dict[str, str]]

    @property
    def code(self) -> str:
        return self.head["particular_code"]


def parse(xml: bytes) -> Reply:
    encoding = re.match(rb'<\?xml[^>]*encoding="([^"]+)"', xml).group(1).decode()
    root = ET.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", xml.decode(encoding)))
    body = root.find("body")
    tran = body.find("tran")
    return Reply({e.tag: e.text or "" for e in root.find("head")},
                 {e.tag: e.text or "" for e in body if e.tag != "tran"},
                 [] if tran is None else [{e.tag: e.text or "" for e in rcd}
                                          for rcd in tran.findall("rcd")])


def ask(system: Running, tr_code: str, body: dict[str, str], *, http: bool = False) -> Reply:
    data = request_xml(tr_code, body, req_no=unique_req_no("A"))
    if http:
        status, answer = send_http(system.erp_http, data)
        assert status == 200
        return parse(answer)
    return parse(send_tcp(system.erp_tcp, data))


@dataclass
class Trail:
    system: Running
    waiting: str  # req_no of a transfer awaiting authorization
    refused: str  # req_no of a transfer the bank refused


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trail]:
    home = tmp_path_factory.mktemp("audit") / "home"
    with running_up(home, "--seed", str(SEED)) as system:
        waiting, refused = unique_req_no("W"), unique_req_no("R")
        reply = parse(send_tcp(system.erp_tcp, request_xml(
            "210201", transfer_body("1500000.00"), req_no=waiting)))
        assert reply.code == "A001", reply
        reply = parse(send_tcp(system.erp_tcp, request_xml(
            "210201", transfer_body("10.00", rcv_acno="310066726018019999999"),
            req_no=refused)))
        assert reply.code == "E003", reply
        # The counter, beside the running core: the core sees it at once.
        cli("core", "operators", "add", "--home", str(home), "--corp-no", CORP,
            "--code", "E01", "--name", "戊", "--role", "checker")
        yield Trail(system, waiting, refused)


def test_the_erp_reads_its_instructions_and_the_counters_changes(trail: Trail) -> None:
    reply = ask(trail.system, "310240", {})
    assert reply.code == "0000", reply
    assert reply.head["particular_info"] == "3 of 3 audit rows"
    assert reply.body == {"total_num": "3", "begin_no": "1", "more_flag": "0"}
    assert [{k: v for k, v in r.items() if k not in ("at", "detail")} for r in reply.records] \
        == [
        {"event": "awaiting", "tr_code": "210201", "req_no": trail.waiting, "operator": "001",
         "amt": "1500000.00", "result": "A001"},
        {"event": "refusal", "tr_code": "210201", "req_no": trail.refused, "operator": "001",
         "amt": "10.00", "result": "E003"},
        {"event": "counter", "tr_code": "", "req_no": "", "operator": "E01", "amt": "",
         "result": "added"},
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", r["at"]) for r in reply.records)
    assert reply.records[2]["detail"] == "operator E01 (戊, checker) added"
    assert list(reply.records[0]) == ["at", "event", "tr_code", "req_no", "operator", "amt",
                                      "result", "detail"]


def test_filters_and_pages_over_http(trail: Trail) -> None:
    mine = ask(trail.system, "310240", {"ogl_serial_no": trail.waiting}, http=True)
    assert [r["req_no"] for r in mine.records] == [trail.waiting]
    assert ask(trail.system, "310240", {"operator": "E01"}).body["total_num"] == "1"
    page = ask(trail.system, "310240", {"begin_no": "2", "query_num": "1"})
    assert page.body == {"total_num": "3", "begin_no": "2", "more_flag": "1"}
    assert [r["req_no"] for r in page.records] == [trail.refused]
    today = page.records[0]["at"][:10].replace("-", "")
    assert ask(trail.system, "310240", {"start_date": today, "end_date": today}
               ).body["total_num"] == "3"
    assert ask(trail.system, "310240", {"start_date": "20991231"}).body["total_num"] == "0"


@pytest.mark.parametrize(("body", "code", "info"), [
    ({"start_date": "20261125", "end_date": "20261124"}, "E013",
     "start_date 20261125 is after end_date 20261124"),
    ({"start_date": "2026-11-24"}, "E001", "start_date must be a date YYYYMMDD"),
    ({"query_num": "1001"}, "E001", "query_num must be at most 1000"),
])
def test_the_daemon_refuses_a_bad_request_before_the_bank(trail: Trail, body, code,
                                                          info) -> None:
    reply = ask(trail.system, "310240", body)
    assert (reply.code, reply.head["ans_code"]) == (code, "1")
    assert reply.head["particular_info"].startswith(info)
    assert reply.records == [] and reply.body == {}


def test_another_enterprise_cannot_be_asked_for(trail: Trail) -> None:
    data = request_xml("310240", {}, req_no=unique_req_no("X"), corp_no="0000000002")
    reply = parse(send_tcp(trail.system.erp_tcp, data))
    assert reply.code == "D005"


def test_the_waiting_transfer_moved_nothing(trail: Trail) -> None:
    for acno, balance in ((ACNO_1, "50000000.00"), (ACNO_2, "250000.00")):
        reply = parse(send_tcp(trail.system.erp_tcp, request_xml(
            "310101", {"acno": acno}, req_no=unique_req_no("B"))))
        assert reply.body["serial_record"].split("|")[14] == balance
