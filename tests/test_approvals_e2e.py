"""Approvals end to end: ``directlink up --seed etc/seed-controls.yaml`` and the real CLI.

One ``up`` (the manual's four-band example, every port 0) serves the module.
Its checkers B01 and C01 make their own keys (``approvals keygen``, the
password in a file) and the bank enrolls them (``core enroll-operator``).
Then, through the real daemon and core, each test with req_nos of its own:

* a transfer of band 2 waits (``send transfer`` exits 3), C01 is refused
  before B01 (E036), B01 then C01 approve it and it executes exactly once;
* a wrong password or a tampered key file is a one-line error, and decides
  nothing;
* a rejection cancels: nothing moves;
* an ERP approves in-app: 310230 over HTTP, the decision signed with
  :mod:`protocol.approval` and sent as 210230 over raw TCP, every refusal
  with its own code, every decision exactly once.

A second ``up`` replays the worked example of docs/approvals.md: its example
keys are enrolled after their fingerprints are checked, the canonical texts
and signatures it shows are what :mod:`protocol.approval` makes, and every
request block is answered with its reply block (but for the values that
vary from run to run). ``python -m tests.test_approvals_e2e`` prints the
reply blocks a fresh replay gives, to refresh the doc by hand.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from protocol import approval
from protocol.keys import SigningKey, VerifyKey, format_fingerprint
from protocol.money import parse_yuan
from tests.erp_client import (
    REPO,
    ErpClient,
    Running,
    cli,
    request_xml,
    running_up,
    send_http,
    send_tcp,
    transfer_body,
)
from tests.test_e2e_docs import Parsed, encode, parse

SEED = REPO / "etc" / "seed-controls.yaml"
DOC = REPO / "docs" / "approvals.md"
CORP = "0000000001"
A1 = "310066726018010000001"  # has the four-band flow; 50,000,000.00
A2 = "310066726018010000002"  # no flow
CHINA = timezone(timedelta(hours=8))

_numbers = itertools.count(1)


def unique_req_no(prefix: str) -> str:
    """A req_no new to this module's ``up`` (each module, each xdist worker, has its own),
    short enough that a reply's particular_info naming it is never cut."""
    return f"{prefix}{next(_numbers):04d}"


ONE_LINE_KEY_ERROR = "cannot load the private key: wrong password or not a PKCS#8 PEM key"


# -- the system and the operators' keys ----------------------------------------------------


@dataclass(frozen=True)
class Operator:
    code: str
    key: Path
    password_file: Path
    fingerprint: str  # as keygen printed it

    def signing_key(self) -> SigningKey:
        password = self.password_file.read_text(encoding="utf-8").splitlines()[0]
        return SigningKey.from_pem(self.key.read_bytes(), password.encode("utf-8"))


@dataclass(frozen=True)
class Controls:
    system: Running
    operators: dict[str, Operator]
    enrolled: dict[str, str]  # what `core enroll-operator` printed, by operator

    @property
    def erp(self) -> ErpClient:
        return self.system.client("tcp")

    def approvals(self, *args: str):
        return cli("approvals", "--home", str(self.system.home), "--port",
                   str(self.system.erp_tcp[1]), *args, check=False)

    def send(self, *args: str):
        return cli("send", "--home", str(self.system.home), "--port",
                   str(self.system.erp_tcp[1]), *args, check=False)

    def decide(self, verb: str, req_no: str, code: str, *, key: Path | None = None,
               password_file: Path | None = None):
        operator = self.operators[code]
        return self.approvals(verb, req_no, "--operator", code, "--key",
                              str(key or operator.key), "--password-file",
                              str(password_file or operator.password_file), "--yes")


def keygen(root: Path, code: str, password: str) -> Operator:
    password_file = root / f"{code.lower()}.password"
    password_file.write_text(password + "\n", encoding="utf-8")
    key = root / f"{code.lower()}.key"
    made = cli("approvals", "keygen", "--operator", code, "--out", str(key),
               "--password-file", str(password_file))
    found = re.search(r"^fingerprint: ([0-9a-f ]+)$", made.stdout, re.M)
    assert found, made.stdout
    assert f"operator {code}: private key {key} (encrypted)" in made.stdout
    assert password not in key.read_text(encoding="ascii")  # encrypted PKCS#8
    return Operator(code, key, password_file, found.group(1))


def enroll(home: Path, code: str, public_key: Path, *fingerprint_or_yes: str) -> str:
    done = cli("core", "enroll-operator", "--home", str(home), "--corp-no", CORP,
               "--operator", code, "--key", str(public_key), *fingerprint_or_yes)
    return done.stdout


@pytest.fixture(scope="module")
def controls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controls]:
    root = tmp_path_factory.mktemp("approvals")
    with running_up(root / "home", "--seed", str(SEED)) as system:
        operators = {code: keygen(root, code, f"{code} own password")
                     for code in ("B01", "C01")}
        enrolled = {code: enroll(system.home, code, Path(f"{op.key}.pub"), "--yes")
                    for code, op in operators.items()}
        yield Controls(system, operators, enrolled)


def balances(erp: ErpClient) -> tuple[Decimal, Decimal]:
    return erp.balance(A1), erp.balance(A2)


def status(erp: ErpClient, req_no: str) -> dict[str, str]:
    return erp.status(req_no).body


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def waiting(address: tuple[str, int], operator: str, req_no: str) -> tuple[Parsed, list]:
    """310230 over HTTP: the reply and its records (each a dict)."""
    status_code, data = send_http(address, request_xml(
        "310230", {"operator": operator, "ogl_serial_no": req_no, "begin_no": "",
                   "query_num": ""}, req_no=unique_req_no("L")))
    assert status_code == 200
    reply = parse(data)
    tran = dict(reply.body).get("tran", "")
    records = [dict(rcd) for name, rcd in tran if name == "rcd"] if tran else []
    return reply, records


def decision_body(req_no: str, operator: str, key: SigningKey, *, level: int, amt: int,
                  decision: str = approval.APPROVE) -> dict[str, str]:
    """A 210230 body as a treasury system builds it: the operator signs, it sends."""
    signed_at = datetime.now(CHINA).replace(tzinfo=None, microsecond=0)
    made = approval.Decision(corp_no=CORP, operator=operator, decision=decision,
                             req_no=req_no, level=level, amt=amt,
                             signed_at=signed_at)
    return {"ogl_serial_no": req_no, "operator": operator,
            "decision": approval.WIRE_DECISION[decision], "level": str(level),
            "amt": f"{Decimal(amt) / 100:.2f}",
            "signed_at": approval.format_signed_at(signed_at),
            "signature": approval.sign(made, key)}


# -- the operators' keys --------------------------------------------------------------------


def test_the_bank_enrolls_the_key_whose_fingerprint_the_operator_was_shown(
        controls: Controls) -> None:
    for code, operator in controls.operators.items():
        key = VerifyKey.from_pem(Path(f"{operator.key}.pub").read_bytes())
        assert operator.fingerprint == format_fingerprint(key.fingerprint)
        printed = controls.enrolled[code]
        assert f"key fingerprint: {operator.fingerprint}" in printed
        assert f"enrolled key {key.key_id} for operator {code} of {CORP}" in printed


# -- the CLI: a band-2 transfer, B01 then C01 ------------------------------------------------


def test_a_band_2_transfer_waits_for_b01_then_c01_and_executes_exactly_once(
        controls: Controls) -> None:
    erp = controls.erp
    before = balances(erp)
    req_no = unique_req_no("AP")

    sent = controls.send("transfer", "--from", A1, "--to", A2, "--amount", "1500000.00",
                         "--req-no", req_no)
    assert sent.returncode == 3, (sent.stdout, sent.stderr)
    assert "A001 awaiting authorization: level 1 of 2 (B01)" in sent.stdout
    assert "awaiting authorization: nothing moves until" in sent.stderr
    assert balances(erp) == before

    shown = controls.send("status", req_no)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^stat: +0 \(processing\)$", shown.stdout, re.M), shown.stdout
    assert re.search(r"^waiting_for: +B01$", shown.stdout, re.M), shown.stdout
    fields = status(erp, req_no)
    assert (fields["stat"], fields["auth_state"], fields["auth_level"],
            fields["auth_levels"], fields["waiting_for"]) == ("0", "1", "0", "2", "B01")

    # Only B01 may act on level 1: C01's list does not show it, B01's does.
    assert req_no not in controls.approvals("list", "--operator", "C01").stdout
    listed = controls.approvals("list", "--operator", "B01")
    assert listed.returncode == 0, listed.stderr
    assert re.search(rf"^{req_no} +transfer +1500000\.00 +{A1} +{A2} +1 of 2 +B01 +001$",
                     listed.stdout, re.M), listed.stdout

    # C01 first: refused with its own code, nothing decided.
    early = controls.decide("approve", req_no, "C01")
    assert early.returncode == 1, (early.stdout, early.stderr)
    assert "E036 C01: an earlier level must approve first" in early.stdout
    assert status(erp, req_no)["auth_level"] == "0"

    first = controls.decide("approve", req_no, "B01")
    assert first.returncode == 0, (first.stdout, first.stderr)
    assert "0000 awaiting authorization: level 2 of 2 (C01)" in first.stdout
    assert balances(erp) == before
    assert req_no in controls.approvals("list", "--operator", "C01").stdout

    last = controls.decide("approve", req_no, "C01")
    assert last.returncode == 0, (last.stdout, last.stderr)
    assert "0000 authorized: success" in last.stdout
    assert re.search(r"^auth_state: +2 \(authorized\)$", last.stdout, re.M), last.stdout

    done = controls.send("status", req_no)
    assert done.returncode == 0 and re.search(r"^stat: +1 \(success\)$", done.stdout, re.M), \
        done.stdout
    moved = Decimal("1500000.00")
    assert balances(erp) == (before[0] - moved, before[1] + moved)

    # Nothing awaits any more: a second approval moves nothing.
    again = controls.decide("approve", req_no, "C01")
    assert again.returncode == 1
    assert "nothing with this req_no awaits authorization" in one_line_error(again)
    assert balances(erp) == (before[0] - moved, before[1] + moved)
    assert status(erp, req_no)["stat"] == "1"

    check = cli("core", "check", "--home", str(controls.system.home), check=False)
    assert check.returncode == 0, check.stdout + check.stderr


# -- key files ---------------------------------------------------------------------------------


def test_a_wrong_password_or_a_tampered_key_file_is_a_one_line_error(
        controls: Controls, tmp_path: Path) -> None:
    erp = controls.erp
    req_no = unique_req_no("AK")
    reply = erp.send("210201", transfer_body("300.00"), req_no=req_no)
    assert (reply.code, reply.head["ans_code"]) == ("A001", "2"), reply

    wrong = tmp_path / "wrong.password"
    wrong.write_text("not B01's password\n", encoding="utf-8")
    refused = controls.decide("approve", req_no, "B01", password_file=wrong)
    assert refused.returncode == 1
    key = controls.operators["B01"].key
    assert one_line_error(refused) == f"Error: {key}: {ONE_LINE_KEY_ERROR}"

    pem = key.read_text(encoding="ascii").splitlines()
    middle = len(pem) // 2
    pem[middle] = pem[middle][:10] + ("A" if pem[middle][10] != "A" else "B") + \
        pem[middle][11:]
    tampered = tmp_path / "tampered.key"
    tampered.write_text("\n".join(pem) + "\n", encoding="ascii")
    refused = controls.decide("approve", req_no, "B01", key=tampered)
    assert refused.returncode == 1
    assert one_line_error(refused) == f"Error: {tampered}: {ONE_LINE_KEY_ERROR}"

    # The public half is no private key either.
    public = Path(f"{key}.pub")
    refused = controls.decide("approve", req_no, "B01", key=public)
    assert refused.returncode == 1 and ONE_LINE_KEY_ERROR in one_line_error(refused)

    fields = status(erp, req_no)
    assert (fields["stat"], fields["auth_state"], fields["auth_level"]) == ("0", "1", "0")


# -- rejection -----------------------------------------------------------------------------------


def test_a_rejection_cancels_the_instruction_and_nothing_moves(controls: Controls) -> None:
    erp = controls.erp
    before = balances(erp)
    req_no = unique_req_no("AR")
    reply = erp.send("210201", transfer_body("800000.00"), req_no=req_no)
    assert reply.code == "A001" and reply.body == {"stat": "0"}, reply

    rejected = controls.decide("reject", req_no, "B01")
    assert rejected.returncode == 0, (rejected.stdout, rejected.stderr)
    assert "0000 rejected: nothing moved" in rejected.stdout
    assert re.search(r"^auth_state: +3 \(rejected\)$", rejected.stdout, re.M)

    fields = status(erp, req_no)
    assert (fields["stat"], fields["auth_state"], fields["err_msg"]) == (
        "2", "3", "rejected by B01")
    assert req_no not in controls.approvals("list").stdout
    late = erp.send("210230", decision_body(req_no, "B01",
                                            controls.operators["B01"].signing_key(),
                                            level=1, amt=80_000_000), req_no=unique_req_no("D"))
    assert (late.code, late.info) == ("E032", f"{req_no}: rejected by B01"), late
    assert balances(erp) == before


# -- the ERP approves in-app: 310230 and a hand-signed 210230 ----------------------------------


def test_an_erp_approves_in_app_with_310230_and_a_signed_210230(controls: Controls) -> None:
    erp = controls.erp
    b01 = controls.operators["B01"].signing_key()
    c01 = controls.operators["C01"].signing_key()
    before = balances(erp)
    req_no = unique_req_no("AE")
    submitted = erp.send("210201", transfer_body("1200000.00"), req_no=req_no)
    assert (submitted.head["ans_code"], submitted.code, submitted.info) == (
        "2", "A001", "awaiting authorization: level 1 of 2 (B01)"), submitted
    assert submitted.body == {"stat": "0"} and submitted.head["serial_no"] == ""

    listed, records = waiting(controls.system.erp_http, "B01", req_no)
    assert listed.head["particular_code"] == "0000"
    assert listed.flat_body["total_num"] == "1"
    (record,) = records
    assert (record["req_no"], record["tr_code"], record["maker"], record["amt"],
            record["pay_acno"], record["rcv_acno"]) == (
        req_no, "210201", "001", "1200000.00", A1, A2)
    assert (record["auth_state"], record["auth_level"], record["auth_levels"],
            record["waiting_for"], record["approved_by"]) == ("1", "0", "2", "B01", "")
    amt, level = parse_yuan(record["amt"]), int(record["auth_level"]) + 1
    assert amt == 120_000_000

    # Field errors the daemon refuses before the bank sees them.
    body = decision_body(req_no, "B01", b01, level=level, amt=amt)
    missing = erp.send("210230", {k: v for k, v in body.items() if k != "signature"},
                       req_no=unique_req_no("D"))
    assert (missing.code, missing.info) == ("E001", "missing field signature"), missing
    bad_amount = erp.send("210230", {**body, "amt": "1200000.001"}, req_no=unique_req_no("D"))
    assert bad_amount.code == "E002", bad_amount

    # B01 approves level 1; the decision's req_no is answered the same every time.
    decision_no = unique_req_no("D")
    first = erp.send("210230", body, req_no=decision_no)
    assert (first.code, first.head["ans_code"]) == ("0000", "0"), first
    assert first.info == "awaiting authorization: level 2 of 2 (C01)"
    assert first.body == {"ogl_serial_no": req_no, "stat": "0", "err_msg": "",
                          "auth_state": "1", "auth_level": "1", "auth_levels": "2",
                          "waiting_for": "C01"}
    again = erp.over("http").send("210230", body, req_no=decision_no)
    assert (again.code, again.info, again.body) == (first.code, first.info, first.body)
    other = erp.send("210230", {**body, "level": "2"}, req_no=decision_no)
    assert other.code == "E011", other
    # The same signed decision under a new req_no: B01 approved already.
    replayed = erp.send("210230", body, req_no=unique_req_no("D"))
    assert replayed.code == "E035", replayed

    # C01's refusals, each with its code; nothing decided by any of them.
    for wrong, code in [
        (decision_body(req_no, "C01", b01, level=2, amt=amt), "E038"),  # B01's key
        (decision_body(req_no, "C01", c01, level=2, amt=amt + 1), "E001"),  # other amount
        (decision_body(req_no, "C01", c01, level=1, amt=amt), "E001"),  # not the waiting level
        ({**decision_body(req_no, "C01", c01, level=2, amt=amt), "signed_at": "2026-11-24"},
         "E001"),
        (decision_body(req_no, "D01", c01, level=2, amt=amt), "E037"),  # D01 has no key
        (decision_body(req_no, "Z99", c01, level=2, amt=amt), "E033"),  # no such operator
        (decision_body("NO-SUCH-REQ", "C01", c01, level=2, amt=amt), "E032"),
    ]:
        refused = erp.send("210230", wrong, req_no=unique_req_no("D"))
        assert (refused.code, refused.head["ans_code"], refused.body) == (code, "1", {}), \
            (wrong, refused)
    assert status(erp, req_no)["auth_level"] == "1"
    assert balances(erp) == before

    # C01 approves the last level over HTTP: it executes there and then.
    last = erp.over("http").send("210230", decision_body(req_no, "C01", c01, level=2,
                                                         amt=amt),
                                 req_no=unique_req_no("D"))
    assert (last.code, last.info) == ("0000", "authorized: success"), last
    assert last.body == {"ogl_serial_no": req_no, "stat": "1", "err_msg": "",
                         "auth_state": "2", "auth_level": "2", "auth_levels": "2",
                         "waiting_for": ""}
    moved = Decimal("1200000.00")
    assert balances(erp) == (before[0] - moved, before[1] + moved)
    fields = status(erp, req_no)
    assert (fields["stat"], fields["auth_state"], fields["auth_level"], fields["amt"]) == (
        "1", "2", "2", "1200000.00")
    _, records = waiting(controls.system.erp_http, "", req_no)
    assert records == []

    # The instruction sent again: its original answer, and nothing moves twice.
    resent = erp.send("210201", transfer_body("1200000.00"), req_no=req_no)
    assert (resent.code, resent.body) == ("A001", {"stat": "0"})
    assert balances(erp) == (before[0] - moved, before[1] + moved)


# -- the worked example of docs/approvals.md -----------------------------------------------------

_KEY = re.compile(r"<!-- example key: (?P<code>\w+) -->\n```text\n(?P<pem>.*?)```", re.S)
_CANONICAL = re.compile(r"<!-- canonical text: (?P<code>\w+) -->\n```text\n(?P<text>.*?)```",
                        re.S)
_REPLAYED = re.compile(r"<!-- replayed: (?P<name>[a-z0-9-]+) (?P<kind>request|reply) -->\n"
                       r"```xml\n(?P<xml>.*?)```", re.S)
#: What differs from run to run, and the form it must have (in the doc and live).
_VARYING = {"tr_acdt": re.compile(r"\d{8}"), "tr_time": re.compile(r"\d{6}"),
            "biz_date": re.compile(r"\d{8}"),
            "submitted": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")}
_SERIAL = re.compile(r"\d{16}")


def example_keys(text: str) -> dict[str, SigningKey]:
    return {m["code"]: SigningKey.from_pem(m["pem"].encode("ascii"), None)
            for m in _KEY.finditer(text)}


def replayed_blocks(text: str) -> list[tuple[str, str, str]]:
    return [(m["name"], m["kind"], m["xml"]) for m in _REPLAYED.finditer(text)]


def replay_worked_example(text: str, root: Path) -> dict[str, bytes]:
    """The doc's example keys enrolled, then its requests sent in order to a fresh ``up``."""
    with running_up(root / "home", "--seed", str(SEED)) as system:
        for code, key in example_keys(text).items():
            public = root / f"{code}.pub"
            public.write_bytes(key.public.to_pem())
            enroll(system.home, code, public, "--fingerprint",
                   format_fingerprint(key.public.fingerprint))
        return {name: send_tcp(system.erp_tcp, encode(xml))
                for name, kind, xml in replayed_blocks(text) if kind == "request"}


def masked(reply: Parsed) -> tuple[dict, list, list[str]]:
    """Head and body with each varying value replaced by its form; and those malformed."""
    wrong: list[str] = []

    def mask(name: str, value: str) -> str:
        form = _VARYING.get(name) or (_SERIAL if name == "serial_no" and value else None)
        if form is None:
            return value
        if not form.fullmatch(value):
            wrong.append(f"{name} = {value!r}")
        return f"<{form.pattern}>"

    def fields(values: list) -> list:
        return [(name, fields(value) if isinstance(value, list) else mask(name, value))
                for name, value in values]

    head = {name: mask(name, value) for name, value in reply.head.items()}
    return head, fields(reply.body), wrong


@pytest.fixture(scope="module")
def worked_example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return replay_worked_example(DOC.read_text(encoding="utf-8"),
                                 tmp_path_factory.mktemp("worked"))


def test_the_worked_example_shows_what_protocol_approval_signs() -> None:
    text = DOC.read_text(encoding="utf-8")
    keys = example_keys(text)
    assert set(keys) == {"B01", "C01"}
    canonical = {m["code"]: m["text"] for m in _CANONICAL.finditer(text)}
    assert set(canonical) == set(keys)
    decisions = {}
    for name, kind, xml in replayed_blocks(text):
        if kind != "request" or "<tr_code>210230</tr_code>" not in xml:
            continue
        body = dict(re.findall(r"<(\w+)>([^<]*)</\1>", xml.split("<body>", 1)[1]))
        made = approval.Decision(
            corp_no=re.search(r"<corp_no>(\d+)</corp_no>", xml)[1],
            operator=body["operator"], req_no=body["ogl_serial_no"],
            decision={v: k for k, v in approval.WIRE_DECISION.items()}[body["decision"]],
            level=int(body["level"]), amt=parse_yuan(body["amt"]),
            signed_at=approval.parse_signed_at(body["signed_at"]))
        decisions[made.operator] = made
        assert body["signature"] == approval.sign(made, keys[made.operator]), name
    assert set(decisions) == set(keys)
    for code, made in decisions.items():
        assert canonical[code].encode("utf-8") == made.canonical_bytes(), code
        assert f"{len(made.canonical_bytes())} bytes" in text
        assert f"`{approval.sign(made, keys[code])}`" in text or \
            approval.sign(made, keys[code]) in text
    for code, key in keys.items():
        assert format_fingerprint(key.public.fingerprint) in text, code
        assert key.public.to_pem().decode("ascii") in text, code


def test_the_worked_example_replies_are_what_the_system_answers(
        worked_example: dict[str, bytes]) -> None:
    blocks = replayed_blocks(DOC.read_text(encoding="utf-8"))
    replies = {name: xml for name, kind, xml in blocks if kind == "reply"}
    requests = [name for name, kind, _ in blocks if kind == "request"]
    assert requests and set(requests) == set(replies)
    hint = "docs/approvals.md is out of date: see python -m tests.test_approvals_e2e"
    for name in requests:
        got, documented = parse(worked_example[name]), parse(encode(replies[name]))
        got_head, got_body, got_wrong = masked(got)
        doc_head, doc_body, doc_wrong = masked(documented)
        assert not doc_wrong and not got_wrong, (name, doc_wrong, got_wrong)
        assert got.encoding.upper() == documented.encoding.upper(), (name, hint)
        assert got_head == doc_head, (name, hint)
        assert got_body == doc_body, (name, hint)


def _print_replies() -> None:
    """Print each reply block of docs/approvals.md as a fresh replay answers it."""
    import tempfile

    sys.path.insert(0, str(REPO / "docs" / "examples"))
    from refresh import render  # docs/examples/refresh.py

    text = DOC.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="directlink-approvals-") as tmp:
        live = replay_worked_example(text, Path(tmp))
    for name, raw in live.items():
        print(f"<!-- replayed: {name} reply -->\n```xml\n{render(parse(raw))}```\n")


if __name__ == "__main__":
    _print_replies()
