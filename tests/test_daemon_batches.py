"""Batch codes through the daemon's ERP service and a real in-process bank core.

XML in, XML out, as an ERP sees it: inline batches with per-item results,
file batches from the exchange folder with their result files, 310207 /
310208 / 310210, and every refusal the daemon makes before the bank hears
of the batch. No subprocess: the core serves on port 0 in this process.
"""

from __future__ import annotations

import os
import re
import stat
import xml.etree.ElementTree as ET

import pytest
import trio

from config.ini import parse_config
from core_sim.ledger import Ledger
from daemon.server import Daemon
from daemon.service import ErpService
from tests.erp_client import request_xml
from tests.test_bank_batches import _agreement, _external, _personal
from tests.test_daemon_link import ACNO1, CORP, USER, Bed, wait_connected

# Accounts of their own, beside the demo seed's.
ZHANG, LI = "6222600199000000001", "6222600199000000002"
EXT = "6222020299000000011"
ICBC = "102100099996"


class Doc:
    def __init__(self, xml: bytes) -> None:
        encoding = re.match(rb'<\?xml[^>]*encoding="([^"]+)"', xml).group(1).decode()
        root = ET.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", xml.decode(encoding)))
        self.head = {e.tag: e.text or "" for e in root.find("head")}
        body = root.find("body")
        self.body = {e.tag: e.text or "" for e in body if e.tag != "tran"}
        tran = body.find("tran")
        self.items = [] if tran is None else [{e.tag: e.text or "" for e in rcd}
                                              for rcd in tran.findall("rcd")]

    @property
    def code(self) -> str:
        return self.head["particular_code"]


@pytest.fixture
def bed(tmp_path):
    bed = Bed(tmp_path)
    conn = bed.bank.connection
    conn.execute("BEGIN IMMEDIATE")
    ledger = Ledger(conn)

    def clock():
        from datetime import datetime
        return datetime(2026, 11, 24, 9, 30)

    _personal(conn, ledger, clock, ZHANG, "张三", 500_000)
    _personal(conn, ledger, clock, LI, "李四", 1_000)
    _external(conn, ledger, clock, EXT, "孙八", None)
    _agreement(conn, "TA01", ZHANG, "张三")
    _agreement(conn, "TA02", LI, "李四")
    _agreement(conn, "TA07", EXT, "孙八")
    ledger.flush()
    conn.execute("COMMIT")
    bed.server.batch_poll = 0.05
    yield bed
    bed.bank.close()


@pytest.fixture
async def service(bed, nursery, tmp_path):
    _, port = await nursery.start(bed.server.serve, "127.0.0.1", 0)
    link = bed.link(port)
    await nursery.start(link.run)
    await wait_connected(link)
    files = tmp_path / "files"
    files.mkdir()
    return ErpService(link, corp_no="0000000001", user_no="001", files_dir=files,
                      request_timeout=10)


def batch_xml(tr_code: str, body: dict, items: list[dict], req_no: str) -> bytes:
    xml = request_xml(tr_code, body, req_no=req_no).decode("gbk")
    records = "".join("<rcd>" + "".join(f"<{k}>{v}</{k}>" for k, v in item.items()) + "</rcd>"
                      for item in items)
    return xml.replace("</body>", f"<tran>{records}</tran></body>").encode("gbk")


def collection_body(count: int, total: str, **extra: str) -> dict:
    return {"cert_no": "C1", "rcv_acno": ACNO1, "sum": str(count), "sum_amt": total,
            "summary": "十一月保费", "busi_no": "FEE01", **extra}


async def ask(service: ErpService, xml: bytes) -> Doc:
    return Doc(await service.handle(xml))


async def test_inline_collection_answers_every_item(service):
    items = [
        {"pay_acno": ZHANG, "pay_acname": "张三", "agreement_no": "TA01", "amt": "100.00",
         "busino": "b1"},
        {"pay_acno": LI, "pay_acname": "李四", "agreement_no": "TA02", "amt": "50.00",
         "busino": "b2"},  # 10.00 available
        {"pay_acno": EXT, "pay_acname": "孙八", "agreement_no": "TA07", "amt": "1.00",
         "busino": "b3", "pay_bank_no": ICBC},
    ]
    reply = await ask(service, batch_xml("330010", collection_body(3, "151.00"), items, "IN1"))
    assert reply.code == "0000", reply.head
    assert reply.head["ans_code"] == "0" and reply.head["serial_no"]
    assert [(i["busino"], i["sucFlg"], i["err_code"]) for i in reply.items] == [
        ("b1", "F", ""), ("b2", "E", "E008"), ("b3", "P", "")]
    assert reply.items[0]["flw"] and not reply.items[1]["flw"]
    assert reply.body["state"] == "2" and reply.body["ok_amt"] == "100.00"
    again = await ask(service, batch_xml("330010", collection_body(3, "151.00"), items, "IN1"))
    assert again.items == reply.items  # the same batch, as it stands


async def test_file_collection_then_status_writes_the_result_file(service, bed, tmp_path):
    lines = [f"{ZHANG},张三,TA01,1.00,f{n}" for n in range(2500)]
    lines.insert(7, f"{LI},李四,TA02,20.00,poor")
    path = tmp_path / "files" / "premiums.txt"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    body = collection_body(2501, "2520.00", file_flag="1", filename="premiums.txt")
    reply = await ask(service, request_xml("330010", body, req_no="FILE1"))
    assert reply.code == "0000", reply.head
    assert reply.body["state"] in ("2", "3") and reply.body["filename"] == "premiums.txt"
    with trio.fail_after(20):
        while True:
            status = await ask(service, request_xml("310207", {"ogl_serial_no": "FILE1"}))
            if status.body["state"] == "3":
                break
            await trio.sleep(0.05)
    assert (status.body["ok_count"], status.body["fail_count"]) == ("2500", "1")
    written = await ask(service, request_xml("310207", {"ogl_serial_no": "FILE1",
                                                        "file_flag": "1"}))
    assert written.body["filename"] == "premiums.txt.result"
    result = (tmp_path / "files" / "premiums.txt.result").read_bytes().decode("gbk").splitlines()
    assert len(result) == 2501
    assert result[0].startswith(f"{ZHANG},张三,TA01,1.00,f0,F,")
    assert result[7].startswith(f"{LI},李四,TA02,20.00,poor,E,,E008,")
    page = await ask(service, request_xml("310208", {"ogl_serial_no": "FILE1", "status": "E"}))
    assert page.body["total_num"] == "1" and page.items[0]["busino"] == "poor"


@pytest.mark.parametrize(("filename", "code"), [
    ("../etc/directlink.ini", "D010"), ("missing.txt", "D010"), (".hidden", "D010")])
async def test_a_bad_filename_is_refused_before_anything_is_sent(service, filename, code):
    body = collection_body(1, "1.00", file_flag="1", filename=filename)
    reply = await ask(service, request_xml("330010", body, req_no="BADF"))
    assert reply.code == code
    status = await ask(service, request_xml("310207", {"ogl_serial_no": "BADF"}))
    assert status.body["state"] == "6"  # the bank never heard of it


async def test_a_bad_line_or_wrong_totals_refuse_the_file(service, tmp_path):
    folder = tmp_path / "files"
    (folder / "bad.txt").write_bytes(f"{ZHANG},张三,TA01,1.00,a\n{ZHANG},张三,TA01,1.5x,b\n"
                                     .encode("gbk"))
    reply = await ask(service, request_xml("330010", collection_body(
        2, "2.50", file_flag="1", filename="bad.txt"), req_no="BADL"))
    assert reply.code == "D011" and "line 2" in reply.head["particular_info"]
    assert "amt" in reply.head["particular_info"]
    (folder / "ok.txt").write_bytes(f"{ZHANG},张三,TA01,1.00,a\n".encode("gbk"))
    reply = await ask(service, request_xml("330010", collection_body(
        2, "2.00", file_flag="1", filename="ok.txt"), req_no="BADT"))
    assert reply.code == "E017"


async def test_310210_lists_the_payers(service):
    reply = await ask(service, request_xml("310210", {"rcv_acno": ACNO1}))
    assert reply.code == "0000"
    mine = [i for i in reply.items if i["agreement_no"].startswith("TA")]
    assert [i["agreement_no"] for i in mine] == ["TA01", "TA02", "TA07"]
    assert mine[2]["payer_bank_no"] == ICBC


async def test_the_daemon_makes_and_uses_the_configured_exchange_folder(bed, nursery, tmp_path):
    """``[files] dir`` elsewhere than HOME/files: created 0700 on start, files found there."""
    _, port = await nursery.start(bed.server.serve, "127.0.0.1", 0)
    config = parse_config(
        f"[enterprise]\ncorp_no = {CORP}\nuser_no = {USER}\n"
        "[forward]\nerp_port = 0\nhttp_port = 0\nlog_file =\n"
        "[files]\ndir = ../exchange/in\n", "directlink.ini", tmp_path / "etc")
    folder = tmp_path / "exchange" / "in"
    assert config.files.dir == folder and not folder.parent.exists()
    daemon = Daemon(config, signing_key=bed.client_key, bank_keys=bed.keys.public,
                    core_host="127.0.0.1", core_port=port)
    old = os.umask(0o022)  # what a careless service manager leaves: 0755 folders
    try:
        await nursery.start(daemon.serve)
    finally:
        os.umask(old)
    for made in (folder.parent, folder):
        assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert not (tmp_path / "files").exists()  # the default folder is not used
    await wait_connected(daemon.link)

    lines = [f"{ZHANG},张三,TA01,1.00,x1", f"{ZHANG},张三,TA01,2.00,x2"]
    (folder / "moved.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    body = collection_body(2, "3.00", file_flag="1", filename="moved.txt")
    reply = await ask(daemon.service, request_xml("330010", body, req_no="MOVED1"))
    assert reply.code == "0000", reply.head
    with trio.fail_after(20):
        while (await ask(daemon.service, request_xml(
                "310207", {"ogl_serial_no": "MOVED1"}))).body["state"] != "3":
            await trio.sleep(0.05)
    written = await ask(daemon.service, request_xml("310207", {"ogl_serial_no": "MOVED1",
                                                               "file_flag": "1"}))
    assert written.body["filename"] == "moved.txt.result"
    result = (folder / "moved.txt.result").read_bytes().decode("gbk").splitlines()
    assert [line.split(",")[5] for line in result] == ["F", "F"]
