"""Batches end to end: the real CLI as subprocesses, a seed with payers in CSV lists.

The home is created by ``directlink up --seed`` (then stopped); the module
then runs ``directlink core serve`` and ``directlink daemon serve`` on it, as
in production, so that the core can be killed (SIGKILL) mid-batch and started
again while the daemon stays. ERP requests go over raw TCP and HTTP; the CLI's
``send batch-collect --file`` and ``core batches`` are run as an admin would.
After each scenario the money adds up and ``directlink core check`` passes.
"""

from __future__ import annotations

import csv
import re
import signal
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from tests.erp_client import (
    Running,
    cli,
    request_xml,
    running_up,
    send_http,
    send_tcp,
    start_process,
)

CORP, USER = "0000000001", "001"
COLLECTING = "310066726018010000001"
PAYING = "310066726018010000002"
ICBC = "102100099996"
PAYERS = 6000  # payers here with agreements, from the CSV lists
EXT_OK, EXT_POOR, EXT_CLOSED = "6222020200000000011", "6222020200000000012", \
    "6222020200000000013"


def payer(i: int) -> str:
    return f"62226{i:014d}"


SEED = f"""bank:
  name: Simulated Bank
  bank_no: "301290000007"
enterprises:
  - corp_no: "{CORP}"
    name: Demo Insurance Co., Ltd.
    users:
      - user_no: "{USER}"
    accounts:
      - acno: "{COLLECTING}"
        name: Demo Insurance Co., Ltd.
        currency: CNY
        balance: "1000.00"
      - acno: "{PAYING}"
        name: Demo Insurance Co., Ltd.
        currency: CNY
        balance: "100000.00"
external_accounts:
  - {{acno: "{EXT_OK}", name: 孙八, bank_no: "{ICBC}", bank_name: ICBC}}
  - {{acno: "{EXT_POOR}", name: 周九, bank_no: "{ICBC}", bank_name: ICBC, balance: "1.00"}}
  - {{acno: "{EXT_CLOSED}", name: 吴十, bank_no: "{ICBC}", bank_name: ICBC, status: closed}}
personal_accounts: {{file: personal.csv}}
agreements: {{file: agreements.csv}}
"""


def write_seed(folder: Path) -> Path:
    with (folder / "personal.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["acno", "name", "id_no", "balance", "status"])
        for i in range(PAYERS):
            status = "frozen" if i == 1 else "active"
            balance = "0.50" if i == 2 else "100.00"
            writer.writerow([payer(i), f"客户{i}", f"{110101199001010000 + i:018d}", balance,
                             status])
    with (folder / "agreements.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["agreement_no", "corp_no", "rcv_acno", "payer_acno", "payer_name",
                         "max_amt", "status"])
        for i in range(PAYERS):
            writer.writerow([f"AG{i:010d}", CORP, COLLECTING, payer(i), f"客户{i}",
                             "5.00" if i == 3 else "", "revoked" if i == 4 else "active"])
        for n, (acno, name) in enumerate(((EXT_OK, "孙八"), (EXT_POOR, "周九"),
                                          (EXT_CLOSED, "吴十"))):
            writer.writerow([f"AX{n:010d}", CORP, COLLECTING, acno, name, "", "active"])
    seed = folder / "seed.yaml"
    seed.write_text(SEED, encoding="utf-8")
    return seed


@dataclass
class Reply:
    head: dict[str, str]
    body: dict[str, str]
    items: list[dict[str, str]]

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


@dataclass
class Bank:
    home: Path
    core: Running
    daemon: Running
    core_port: int

    def ask(self, tr_code: str, body: dict, items: list[dict] | None = None, *,
            req_no: str = "", http: bool = False) -> Reply:
        xml = request_xml(tr_code, body, req_no=req_no).decode("gbk")
        if items is not None:
            records = "".join("<rcd>" + "".join(f"<{k}>{v}</{k}>" for k, v in i.items())
                              + "</rcd>" for i in items)
            xml = xml.replace("</body>", f"<tran>{records}</tran></body>")
        data = xml.encode("gbk")
        if http:
            status, answer = send_http(self.daemon.erp_http, data, timeout=120)
            assert status == 200
            return parse(answer)
        return parse(send_tcp(self.daemon.erp_tcp, data, timeout=120))

    def status(self, req_no: str) -> Reply:
        reply = self.ask("310207", {"ogl_serial_no": req_no})
        assert reply.code == "0000", reply
        return reply

    def wait_finished(self, req_no: str, timeout: float = 60.0, *, clear: bool = False
                      ) -> Reply:
        deadline = time.monotonic() + timeout
        while True:
            reply = self.status(req_no)
            if reply.body["state"] in ("3", "4"):
                return reply
            assert time.monotonic() < deadline, f"{req_no} not finished: {reply}"
            if clear:
                cli("core", "clear", "--home", str(self.home), check=False)
            time.sleep(0.1)

    def balance(self, acno: str) -> str:
        reply = parse(send_tcp(self.daemon.erp_tcp, request_xml("310101", {"acno": acno})))
        return reply.body["serial_record"].split("|")[13]

    def check(self) -> None:
        result = cli("core", "check", "--home", str(self.home), check=False)
        assert result.returncode == 0, result.stdout + result.stderr

    def start_core(self) -> None:
        self.core.stop(signal.SIGKILL)
        self.core = start_process(["core", "serve", "--home", str(self.home), "--port",
                                   str(self.core_port)], self.home, log_name="core")


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bank]:
    folder = tmp_path_factory.mktemp("batches")
    seed = write_seed(folder)
    home = folder / "home"
    with running_up(home, "--seed", str(seed)):
        pass
    core = start_process(["core", "serve", "--home", str(home), "--port", "0"], home,
                         log_name="core")
    port = core.addresses["core"][1]
    daemon = start_process(["daemon", "serve", "--home", str(home), "--core-port", str(port),
                            "--erp-port", "0", "--http-port", "0"], home, log_name="daemon")
    running = Bank(home, core, daemon, port)
    try:
        yield running
    finally:
        for process in (running.daemon, running.core):
            if process.proc.poll() is None:
                process.stop()


def collection(count: int, total: str, **extra: str) -> dict[str, str]:
    return {"cert_no": "C1", "rcv_acno": COLLECTING, "sum": str(count), "sum_amt": total,
            "summary": "premiums", "busi_no": "FEE01", **extra}


def test_inline_collection_over_http_with_every_kind_of_item(bank):
    items = [
        {"pay_acno": payer(0), "pay_acname": "客户0", "agreement_no": f"AG{0:010d}",
         "amt": "10.00", "busino": "i0"},
        {"pay_acno": payer(1), "pay_acname": "客户1", "agreement_no": f"AG{1:010d}",
         "amt": "10.00", "busino": "i1"},                                       # frozen
        {"pay_acno": payer(2), "pay_acname": "客户2", "agreement_no": f"AG{2:010d}",
         "amt": "10.00", "busino": "i2"},                                       # 0.50 left
        {"pay_acno": payer(3), "pay_acname": "客户3", "agreement_no": f"AG{3:010d}",
         "amt": "10.00", "busino": "i3"},                                       # max 5.00
        {"pay_acno": payer(4), "pay_acname": "客户4", "agreement_no": f"AG{4:010d}",
         "amt": "10.00", "busino": "i4"},                                       # revoked
        {"pay_acno": EXT_OK, "pay_acname": "孙八", "agreement_no": f"AX{0:010d}",
         "amt": "10.00", "busino": "i5", "pay_bank_no": ICBC},
        {"pay_acno": EXT_POOR, "pay_acname": "周九", "agreement_no": f"AX{1:010d}",
         "amt": "10.00", "busino": "i6", "pay_bank_no": ICBC},                  # 1.00 there
        {"pay_acno": EXT_CLOSED, "pay_acname": "吴十", "agreement_no": f"AX{2:010d}",
         "amt": "10.00", "busino": "i7", "pay_bank_no": ICBC},
    ]
    before = bank.balance(COLLECTING)
    reply = bank.ask("330010", collection(8, "80.00"), items, req_no="E2EIN1", http=True)
    assert reply.code == "0000", reply
    assert [(i["sucFlg"], i["err_code"]) for i in reply.items] == [
        ("F", ""), ("E", "E005"), ("E", "E008"), ("E", "E024"), ("E", "E022"),
        ("P", ""), ("P", ""), ("P", "")]
    final = bank.wait_finished("E2EIN1", clear=True)  # the other-bank items clear
    assert (final.body["ok_count"], final.body["fail_count"]) == ("2", "6")
    page = bank.ask("310208", {"ogl_serial_no": "E2EIN1", "status": "E"})
    assert {i["busino"]: i["err_code"] for i in page.items}["i6"] == "E008"
    assert {i["busino"]: i["err_code"] for i in page.items}["i7"] == "E006"
    assert Decimal(bank.balance(COLLECTING)) == Decimal(before) + 20
    bank.check()


def test_file_collection_from_the_cli_with_progress_result_file_and_paging(bank, tmp_path):
    path = tmp_path / "premiums.txt"
    lines = [f"{payer(i)},客户{i},AG{i:010d},1.00,f{i}" for i in range(5, 2505)]
    lines.append(f"{payer(9)},客户9,NOAGREEMENT,1.00,nope")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    result = cli("send", "--home", str(bank.home), "--port", str(bank.daemon.erp_tcp[1]),
                 "batch-collect", "--to", COLLECTING, "--file", str(path), "--req-no",
                 "E2EFILE1", check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2501 items, 2501.00 yuan" in result.stderr
    assert re.search(r"succeeded\s+2500\s+2500\.00", result.stdout), result.stdout
    written = bank.home / "files" / "premiums.txt.result"
    rows = written.read_bytes().decode("gbk").splitlines()
    assert len(rows) == 2501 and rows[-1].endswith(",E,,E021,no collection agreement "
                                                   "NOAGREEMENT")
    pages = [bank.ask("310208", {"ogl_serial_no": "E2EFILE1", "begin_no": str(b)})
             for b in (1, 1001, 2001)]
    assert [len(p.items) for p in pages] == [1000, 1000, 501]
    assert [p.body["more_flag"] for p in pages] == ["1", "1", "0"]
    assert pages[2].items[-1]["seq"] == "2501"
    shown = cli("core", "batches", "--home", str(bank.home), "show", "E2EFILE1")
    assert "E021" in shown.stdout and "2500 items" in shown.stdout

    # The same req_no again is the same batch, as it stands: nothing runs twice.
    balance = bank.balance(COLLECTING)
    again = cli("send", "--home", str(bank.home), "--port", str(bank.daemon.erp_tcp[1]),
                "batch-collect", "--to", COLLECTING, "--file", str(path), "--req-no",
                "E2EFILE1", "--no-progress", check=False, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert bank.balance(COLLECTING) == balance
    changed = bank.home / "files" / "premiums2.txt"  # in the exchange folder
    changed.write_bytes(("\r\n".join(lines[:-1]) + "\r\n").encode("gbk"))
    other = bank.ask("330010", collection(2500, "2500.00", file_flag="1",
                                          filename="premiums2.txt"), req_no="E2EFILE1")
    assert other.code == "E011", other  # the same req_no with other content
    assert bank.balance(COLLECTING) == balance
    bank.check()


def test_310210_lists_the_payers_paged(bank):
    first = bank.ask("310210", {"rcv_acno": COLLECTING, "query_num": "1000"})
    assert first.code == "0000" and first.body["total_num"] == str(PAYERS + 3)
    assert len(first.items) == 1000 and first.body["more_flag"] == "1"
    assert first.items[3]["max_amt"] == "5.00" and first.items[4]["status"] == "1"


def test_kill_9_of_the_core_mid_batch_then_every_item_exactly_once(bank):
    count = 60_000
    path = bank.home / "files" / "big.txt"
    with path.open("w", encoding="gbk", newline="") as out:
        for n in range(count):
            i = 5 + n % (PAYERS - 5)
            out.write(f"{payer(i)},客户{i},AG{i:010d},0.01,k{n}\r\n")
    before = bank.balance(COLLECTING)
    reply = bank.ask("330010", collection(count, f"{count // 100}.{count % 100:02d}",
                                          file_flag="1", filename="big.txt"), req_no="E2EKILL")
    assert reply.code == "0000", reply
    deadline = time.monotonic() + 60
    while True:  # kill while the bank is executing the items
        status = bank.status("E2EKILL").body
        done = int(status["ok_count"]) + int(status["fail_count"])
        if 0 < done < count:
            break
        assert done < count, "the batch finished before the kill; make it bigger"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    bank.core.proc.send_signal(signal.SIGKILL)
    bank.core.proc.wait()
    bank.start_core()
    final = bank.wait_finished("E2EKILL", timeout=120)
    assert (final.body["ok_count"], final.body["fail_count"]) == (str(count), "0")
    grown = Decimal(bank.balance(COLLECTING)) - Decimal(before)
    assert grown == Decimal(count) / 100  # 0.01 each, exactly once
    bank.check()
