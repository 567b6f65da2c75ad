"""E-receipts end to end: ``directlink up``, then the real CLI as an admin would run it.

``send transfer`` and ``send interbank`` move money through the daemon;
``receipt fetch`` asks the daemon for the receipts (310220), verifies them
against the pinned bank key and writes their files and PDFs; ``receipt
verify`` checks a file offline, and refuses one that was altered. The PDF is
read back with pypdf, as a person would read it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pypdf
import pytest

from protocol.keys import BankKeyPair
from protocol.receipt import SignedReceipt
from tests.erp_client import ACNO_1, ACNO_2, Running, cli


def run(*args: str, check: bool = True):
    return cli(*args, check=check)


def fetch(system: Running, out: Path, *how: str, check: bool = True):
    return run("receipt", "fetch", "--home", str(system.home), "--port",
               str(system.erp_tcp[1]), "--out", str(out), *how, check=check)


@pytest.fixture(scope="module")
def transferred(up_system: Running, tmp_path_factory: pytest.TempPathFactory):
    """One transfer between the demo's two accounts, its receipts fetched with --pdf."""
    sent = run("send", "--home", str(up_system.home), "--port", str(up_system.erp_tcp[1]),
               "transfer", "--from", ACNO_1, "--to", ACNO_2, "--amount", "1234.56",
               "--req-no", "RCPT-T1", "--summary", "货款")
    serial = re.search(r"serial_no: (\d{16})", sent.stdout)[1]
    out = tmp_path_factory.mktemp("receipts")
    fetched = fetch(up_system, out, "--req-no", "RCPT-T1", "--pdf", str(out / "r.pdf"))
    return serial, out, fetched


def test_fetch_verifies_and_writes_each_receipt(transferred, up_system: Running) -> None:
    serial, out, fetched = transferred
    assert fetched.stdout.count("verified: receipt no ") == 2
    assert f"receipt no {serial}-D" in fetched.stdout and f"{serial}-C" in fetched.stdout
    assert "1234.56 CNY (壹仟贰佰叁拾肆元伍角陆分)" in fetched.stdout
    assert "2 receipts verified against bank key" in fetched.stdout
    debit = SignedReceipt.from_bytes((out / f"{serial}-D.txt").read_bytes()).receipt
    assert (debit.kind, debit.payer_acno, debit.payee_acno) == ("debit", ACNO_1, ACNO_2)
    assert (debit.amount, debit.summary, debit.req_no) == (123_456, "货款", "RCPT-T1")


def test_the_pdf_holds_the_amount_in_capitals(transferred) -> None:
    serial, out, _ = transferred
    pdf = (out / f"r-{serial}-D.pdf").read_bytes()
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for expected in ("人民币壹仟贰佰叁拾肆元伍角陆分", "¥1,234.56", f"{serial}-D", "付款回单",
                     ACNO_1, ACNO_2, "Simulated Bank 电子回单"):
        assert expected in text, expected
    assert "收款回单" in pypdf.PdfReader(out / f"r-{serial}-C.pdf").pages[0].extract_text()


def test_verify_says_valid_and_names_the_key(transferred, up_system: Running) -> None:
    serial, out, _ = transferred
    result = run("receipt", "verify", str(out / f"{serial}-D.txt"), "--home",
                 str(up_system.home))
    fingerprint = re.search(r"signed by bank key ((?:[0-9a-f]{4} ){15}[0-9a-f]{4})",
                            result.stdout)
    assert result.stdout.startswith(f"valid: receipt no {serial}-D amount 1234.56 CNY "
                                    "(壹仟贰佰叁拾肆元伍角陆分) signed by bank key ")
    assert fingerprint is not None


def test_a_one_byte_change_is_refused_as_altered(transferred, up_system: Running,
                                                 tmp_path: Path) -> None:
    serial, out, _ = transferred
    original = (out / f"{serial}-D.txt").read_bytes()
    tampered = tmp_path / "tampered.txt"
    tampered.write_bytes(original.replace(b"payee_acno=310066726018010000002",
                                          b"payee_acno=310066726018010000003"))
    assert tampered.read_bytes() != original
    result = run("receipt", "verify", str(tampered), "--home", str(up_system.home),
                 check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("ALTERED: ")
    assert "it was changed after the bank signed it" in result.stderr
    assert "valid" not in result.stdout


def test_the_pdf_verifies_on_its_own_and_a_forged_page_does_not(
        transferred, up_system: Running, tmp_path: Path) -> None:
    serial, out, _ = transferred
    pdf = out / f"r-{serial}-D.pdf"
    ok = run("receipt", "verify", str(pdf), "--home", str(up_system.home))
    assert ok.stdout.startswith(f"valid: receipt no {serial}-D amount 1234.56 CNY ")
    # The credit receipt's page, carrying the debit receipt's genuine file.
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(out / f"r-{serial}-C.pdf"))
    del writer._root_object[pypdf.generic.NameObject("/Names")]
    writer.add_attachment(f"{serial}-D.txt", (out / f"{serial}-D.txt").read_bytes())
    forged = tmp_path / "forged.pdf"
    with forged.open("wb") as handle:
        writer.write(handle)
    refused = run("receipt", "verify", str(forged), "--home", str(up_system.home),
                  check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"ALTERED: {forged}: the printed page does not show")
    assert "receipt no" in refused.stderr
    assert "valid" not in refused.stdout


def test_verify_with_the_banks_key_file_or_another_banks(transferred, up_system: Running,
                                                         tmp_path: Path) -> None:
    serial, out, _ = transferred
    exported = tmp_path / "bank.pub"
    run("core", "export-key", "--home", str(up_system.home), "-o", str(exported))
    ok = run("receipt", "verify", str(out / f"{serial}-C.txt"), "--bank-key", str(exported))
    assert ok.stdout.startswith(f"valid: receipt no {serial}-C ")
    other_keys = BankKeyPair.generate().public
    other = tmp_path / "other.pub"
    other.write_text(other_keys.to_text(), encoding="ascii")
    refused = run("receipt", "verify", str(out / f"{serial}-C.txt"), "--bank-key", str(other),
                  check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("NOT SIGNED BY THE PINNED BANK KEY: ")
    assert f"checked against has key id {other_keys.key_id}" in refused.stderr


def test_a_returned_payment_and_the_date_range(up_system: Running, tmp_path: Path) -> None:
    run("send", "--home", str(up_system.home), "--port", str(up_system.erp_tcp[1]),
        "interbank", "--from", ACNO_1, "--to", "6217000010000000003", "--to-name", "Wang Wu",
        "--bank-no", "105100000017", "--amount", "66", "--urgent", "--req-no", "RCPT-IB1")
    up_system.client().wait_status("RCPT-IB1", home=up_system.home)
    result = fetch(up_system, tmp_path, "--req-no", "RCPT-IB1")
    assert result.stdout.count("verified: ") == 2
    assert "credit  66.00 CNY (陆拾陆元整)  from Wang Wu" in result.stdout
    day = re.search(r"verified: receipt no \S+  (\d{4})-(\d\d)-(\d\d)", result.stdout)
    ymd = "".join(day.groups())
    everything = fetch(up_system, tmp_path / "all", "--acno", ACNO_1, "--from", ymd, "--to", ymd)
    written = {path.name for path in (tmp_path / "all").iterdir()}
    assert written >= {path.name for path in tmp_path.glob("*.txt")}
    assert f"{len(written)} receipts verified" in everything.stdout


def test_nothing_matches_is_said_plainly(up_system: Running, tmp_path: Path) -> None:
    result = fetch(up_system, tmp_path, "--req-no", "NO-SUCH-REQ", check=False)
    assert result.returncode == 1
    assert "E039 no receipt: no instruction NO-SUCH-REQ" in result.stdout
    assert list(tmp_path.iterdir()) == []


# -- the daemon's side of 310220 and the CLI's rebuilding, without processes ---------------


def _erp_request(**body: str):
    from daemon.erp import fill_identity, request_to_wire
    from daemon.erp_xml import ErpDocument

    head = {"tr_code": "310220", "corp_no": "", "user_no": "", "req_no": "R1"}
    doc = fill_identity(ErpDocument(head=head, body=body, encoding="GBK"),
                        corp_no="0000000001", user_no="001")
    return request_to_wire(doc)


@pytest.mark.parametrize(("body", "code", "info"), [
    ({"ogl_serial_no": "R0", "serial_no": "2026112400000001"}, "E001",
     "give one of ogl_serial_no, serial_no, or acno"),
    ({"serial_no": "S", "acno": ACNO_1}, "E001", "give one of"),
    ({"acno": ACNO_1, "start_date": "20261124"}, "E001", "missing field end_date"),
    ({"start_date": "20261124", "end_date": "20261124"}, "E001", "missing field acno"),
    ({"acno": ACNO_1, "start_date": "20261125", "end_date": "20261124"}, "E013", "after"),
    ({"ogl_serial_no": "R0", "query_num": "501"}, "E001", "at most 500"),
])
def test_the_daemon_refuses_a_request_that_does_not_say_one_way(body, code, info) -> None:
    from daemon.erp_xml import ErpRequestError

    with pytest.raises(ErpRequestError) as refused:
        _erp_request(**body)
    assert refused.value.code.code == code and info in refused.value.info


def test_the_daemon_sends_every_wire_field() -> None:
    wire = _erp_request(acno=ACNO_1, start_date="20261101", end_date="20261130")
    assert wire.fields == {"ogl_serial_no": "", "serial_no": "", "acno": ACNO_1,
                           "start_date": "20261101", "end_date": "20261130", "begin_no": 0,
                           "query_num": 0}


def _signed_record(keys: BankKeyPair, **changes: object) -> dict:
    from datetime import date, datetime

    from protocol.receipt import Receipt, sign_receipt

    receipt = Receipt(
        receipt_no="2026112400000005-C", biz_date=date(2026, 11, 24), kind="credit",
        payer_acno="6222020200000000001", payer_name="张三 | Zhang  San\\",
        payer_bank="ICBC Beijing Branch", payee_acno=ACNO_1, payee_name="示范保险",
        payee_bank="Simulated Bank", amount=100_403, summary="returned: a < b & c",
        serial_no="2026112400000005", req_no="", corp_no="0000000001", tr_code="210224",
        issued_at=datetime(2026, 11, 24, 10, 15))
    signed = sign_receipt(receipt, keys)
    record = {"receipt_no": receipt.receipt_no, "biz_date": "20261124", "dc_flag": "C",
              "payer_acno": receipt.payer_acno, "payer_name": receipt.payer_name,
              "payer_bank": receipt.payer_bank, "payee_acno": receipt.payee_acno,
              "payee_name": receipt.payee_name, "payee_bank": receipt.payee_bank,
              "cur_code": "CNY", "amt": receipt.amount, "summary": receipt.summary,
              "serial_no": receipt.serial_no, "req_no": "", "corp_no": receipt.corp_no,
              "tr_code": receipt.tr_code, "issued_at": "2026-11-24T10:15:00",
              "signer_key_id": signed.signer_key_id, "signature": signed.signature.hex()}
    record.update(changes)
    return record


def test_an_erp_reply_rebuilds_and_verifies_its_receipts() -> None:
    from daemon.erp import reply_to_erp
    from daemon.erp.replies import WireReply
    from daemon.erp_xml import render_reply
    from directlink.commands.receipt import signed_from_record
    from directlink.commands.send_wire import parse_reply
    from protocol.receipt import SignatureMismatch, WrongSignerError

    keys = BankKeyPair.from_seeds(bytes(32), bytes([1]) * 32)
    wire = {"total_num": 1, "begin_no": 1, "more_flag": "0", "records": [_signed_record(keys)]}
    head, body = reply_to_erp("310220", {"tr_code": "310220", "req_no": "R1"},
                              WireReply(ret_code="0000", fields=wire))
    rcd = body["tran"]["rcd"][0]
    assert (rcd["amt"], rcd["amt_in_capitals"]) == ("1004.03", "壹仟零肆元零叁分")
    assert rcd["payer_name"] == "张三 | Zhang  San\\"  # as signed: no cell escaping
    for encoding in ("GBK", "UTF-8"):
        reply = parse_reply(render_reply(head, body, encoding=encoding), encoding=encoding)
        (record,) = [reply.body["tran"]["rcd"]]
        signed = signed_from_record(record, keys.public)
        assert signed.receipt.summary == "returned: a < b & c"
    with pytest.raises(SignatureMismatch):
        signed_from_record({**record, "payee_name": "示范保险x"}, keys.public)
    with pytest.raises(WrongSignerError, match="not by the pinned bank key"):
        signed_from_record(record, BankKeyPair.from_seeds(bytes([2]) * 32, bytes(32)).public)


def test_the_doc_lists_every_receipt_field() -> None:
    from daemon.erp.receipts import RECEIPT_FIELDS
    from tests.test_erp_docs import DOC, _section

    section = _section(DOC.read_text(encoding="utf-8"), "310220")
    for name, _ in RECEIPT_FIELDS:
        assert f"| `{name}` |" in section, name
