"""ERP requests to wire fields and wire replies to ERP replies, per tr_code."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.erp import (
    CST,
    REQUEST_RULES,
    SUPPORTED_TR_CODES,
    ErpRequestError,
    WireReply,
    WireReplyError,
    WireRequest,
    ans_code_for,
    error_reply,
    fill_identity,
    new_req_no,
    outcome_unknown_reply,
    reply_to_erp,
    request_to_wire,
)
from daemon.erp.queries import ACCOUNT_COLUMNS, ENTRY_COLUMNS
from daemon.erp_xml import REPLY_HEAD_FIELDS, ErpDocument, parse_request, render_reply
from protocol import codes
from protocol.bodies import CODECS, REQUEST, RESPONSE

CORP, USER = "0000000001", "001"
A1, A2, EXT = "310066726018010000001", "310066726018010000002", "6222020200000000001"
ACNAME = "Demo Insurance Co., Ltd."
NOW = dt.datetime(2026, 11, 24, 10, 15, 30, tzinfo=CST)


def clock() -> dt.datetime:
    return NOW


def _doc(tr_code: str, body: dict, **head: str) -> ErpDocument:
    full_head = {"tr_code": tr_code, "corp_no": CORP, "user_no": USER, "req_no": "ERP-1"}
    full_head.update(head)
    return ErpDocument(head=full_head, body=body)


def _wire(tr_code: str, body: dict, **head: str) -> WireRequest:
    return request_to_wire(_doc(tr_code, body, **head))


def _refused(tr_code: str, body: dict, **head: str) -> ErpRequestError:
    with pytest.raises(ErpRequestError) as info:
        _wire(tr_code, body, **head)
    return info.value


TRANSFER = {
    "pay_acno": A1,
    "pay_acname": ACNAME,
    "rcv_bank_name": "ICBC Beijing Branch",
    "rcv_acno": EXT,
    "rcv_acname": "Zhang San",
    "rcv_exg_code": "",
    "rcv_bank_no": "102100099996",
    "cur_code": "CNY",
    "amt": "1000.00",
    "cert_no": "PAY-0001",
    "summary": "货款",
    "bank_flag": "1",
    "area_flag": "1",
}

PAYMENT = {
    "pay_acno": A1,
    "pay_acname": ACNAME,
    "rcv_acno": EXT,
    "rcv_acname": "张三",
    "partyid": "102100099996",
    "amt": "500",
    "cert_no": "PAY-0002",
    "purpose": "报销",
    "summary": "差旅费",
    "urgent_flag": "1",
}

VALID = {
    "310101": {"acno": A1},
    "310201": {"acno": A1},
    "310301": {"acno": A1, "start_date": "20261101", "end_date": "20261124",
               "begin_no": "1", "query_num": "100"},
    "210201": TRANSFER,
    "210224": PAYMENT,
    "310204": {"query_flag": "1", "ogl_serial_no": "ERP20261124000003"},
    "310220": {"ogl_serial_no": "ERP20261124000002", "serial_no": "", "acno": "",
               "start_date": "", "end_date": "", "begin_no": "1", "query_num": "100"},
    "310230": {"operator": "B01", "ogl_serial_no": "", "begin_no": "1", "query_num": "100"},
    "210230": {"ogl_serial_no": "ERP20261124000003", "operator": "B01", "decision": "1",
               "level": "1", "amt": "1500000.00", "signed_at": "2026-11-24T10:15:00",
               "signature": "ab" * 64},
    "310240": {"start_date": "20261101", "end_date": "20261124",
               "ogl_serial_no": "ERP-1", "operator": "B01", "begin_no": "1",
               "query_num": "100"},
}


# -- requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tr_code", "expected"),
    [
        ("310101", {"acno": A1}),
        ("310201", {"acno": A1}),
        ("310301", {"acno": A1, "start_date": "20261101", "end_date": "20261124",
                    "begin_no": 1, "query_num": 100}),
        ("210201", {**TRANSFER, "amt": 100000}),
        ("210224", {**PAYMENT, "amt": 50000}),
        ("310204", {"query_flag": "1", "ogl_serial_no": "ERP20261124000003"}),
    ],
)
def test_valid_request_to_wire(tr_code: str, expected: dict) -> None:
    wire = _wire(tr_code, VALID[tr_code])
    assert (wire.tr_code, wire.req_no, wire.corp_no, wire.user_no) == (
        tr_code, "ERP-1", CORP, USER)
    assert wire.fields == expected
    # Field order is the wire declaration's.
    assert list(wire.fields) == CODECS[(tr_code, REQUEST)].names


@pytest.mark.parametrize("tr_code", sorted(SUPPORTED_TR_CODES))
def test_wire_fields_fit_the_wire_declaration(tr_code: str) -> None:
    codec = CODECS[(tr_code, REQUEST)]
    for body in (VALID[tr_code], _minimal(tr_code)):
        fields = _wire(tr_code, body).fields
        assert codec.decode(codec.encode(fields)) == fields


def _minimal(tr_code: str) -> dict:
    return {k: v for k, v in VALID[tr_code].items()
            if any(r.name == k and r.required for r in REQUEST_RULES[tr_code])}


def test_rules_cover_exactly_the_wire_fields() -> None:
    for tr_code, rules in REQUEST_RULES.items():
        assert [r.name for r in rules] == CODECS[(tr_code, REQUEST)].names


def test_defaults_for_optional_fields() -> None:
    wire = _wire("210201", _minimal("210201"))
    assert wire.fields["cur_code"] == "CNY"
    assert wire.fields["bank_flag"] == "0"
    assert wire.fields["area_flag"] == "0"
    assert wire.fields["rcv_bank_no"] == ""
    assert wire.fields["summary"] == ""
    assert _wire("210224", _minimal("210224")).fields["urgent_flag"] == "0"
    assert _wire("310204", {"ogl_serial_no": "X1"}).fields["query_flag"] == "1"
    assert _wire("310101", {}).fields == {"acno": ""}  # every account
    paging = _wire("310301", {"acno": A1, "start_date": "20261101", "end_date": "20261101"})
    assert (paging.fields["begin_no"], paging.fields["query_num"]) == (0, 0)


def test_unused_body_elements_are_ignored() -> None:
    assert _wire("310101", {"acno": A1, "type": "S"}).fields == {"acno": A1}


def test_lower_case_currency_is_normalised() -> None:
    assert _wire("210201", {**TRANSFER, "cur_code": "cny"}).fields["cur_code"] == "CNY"


def test_partyid_alias() -> None:
    body = {k: v for k, v in PAYMENT.items() if k != "partyid"}
    wire = _wire("210224", {**body, "partyId": "102100099996"})
    assert wire.fields["partyid"] == "102100099996"
    # Both given and equal is fine; both given and different is refused.
    assert _wire("210224", {**PAYMENT, "partyId": "102100099996"}).fields["partyid"]
    error = _refused("210224", {**PAYMENT, "partyId": "103100000026"})
    assert error.code == codes.INVALID_FIELD
    assert "partyid and partyId" in error.info


@pytest.mark.parametrize(
    ("amt", "fen"),
    [("12.5", 1250), ("12.50", 1250), ("12", 1200), ("0.01", 1), (" 7.1 ", 710),
     ("99999999999999.99", 9999999999999999)],
)
def test_amounts(amt: str, fen: int) -> None:
    assert _wire("210201", {**TRANSFER, "amt": amt}).fields["amt"] == fen


def test_12_5_equals_12_50() -> None:
    assert (_wire("210224", {**PAYMENT, "amt": "12.5"}).fields
            == _wire("210224", {**PAYMENT, "amt": "12.50"}).fields)


@pytest.mark.parametrize(
    ("amt", "reason"),
    [
        ("1.005", "more than two decimals"),
        ("abc", "not an amount"),
        ("1e3", "not an amount"),
        ("1,000.00", "not an amount"),
        ("-1", "negative"),
        ("-0.01", "negative"),
        ("0", "must be positive"),
        ("0.00", "must be positive"),
        ("123456789012345.00", "too large"),
        ("１２", "not an amount"),  # full-width digits
    ],
)
def test_bad_amounts_are_e002_naming_the_field(amt: str, reason: str) -> None:
    for tr_code, body in (("210201", TRANSFER), ("210224", PAYMENT)):
        error = _refused(tr_code, {**body, "amt": amt})
        assert error.code == codes.INVALID_AMOUNT
        assert error.info.startswith("amt: ")
        assert reason in error.info


def test_missing_amount_is_e001() -> None:
    error = _refused("210201", {**TRANSFER, "amt": ""})
    assert (error.code, error.info) == (codes.INVALID_FIELD, "missing field amt")


@pytest.mark.parametrize(
    ("tr_code", "name"),
    [(tr_code, rule.name) for tr_code, rules in REQUEST_RULES.items()
     for rule in rules if rule.required],
)
def test_every_required_field_missing(tr_code: str, name: str) -> None:
    body = dict(VALID[tr_code])
    body.pop(name)
    error = _refused(tr_code, body)
    assert error.code == codes.INVALID_FIELD
    assert error.info == f"missing field {name}"
    assert error.head["req_no"] == "ERP-1"  # so the reply can echo it
    # Present but empty (or blank) is the same as absent.
    assert _refused(tr_code, {**body, name: ""}).info == f"missing field {name}"


LONG_NAME = "北" * 31  # 62 GB18030 bytes
INVALID = [
    ("210201", "pay_acno", "3100 6672", "pay_acno must be at most 32"),
    ("210201", "pay_acno", "1" * 33, "pay_acno must be at most 32"),
    ("210201", "rcv_acno", "62220202/1", "rcv_acno must be at most 32"),
    ("210201", "pay_acname", LONG_NAME, "pay_acname is 62 bytes in GB18030; at most 60"),
    ("210201", "rcv_acname", "a" * 61, "rcv_acname is 61 bytes"),
    ("210201", "rcv_acname", "Zhang\nSan", "rcv_acname contains control characters"),
    ("210201", "rcv_acname", "Zhang|San", "rcv_acname must not contain '|'"),
    ("210201", "rcv_bank_name", "银" * 41, "rcv_bank_name is 82 bytes in GB18030; at most 80"),
    ("210201", "rcv_bank_no", "10210009999", "rcv_bank_no must be 12 digits"),
    ("210201", "rcv_bank_no", "10210009999a", "rcv_bank_no must be 12 digits"),
    ("210201", "rcv_bank_no", "１０２１０００９９９９６", "rcv_bank_no must be 12 digits"),
    ("210201", "rcv_exg_code", "1234567890123", "rcv_exg_code is 13 characters; at most 12"),
    ("210201", "cur_code", "RMB1", "cur_code must be a 3-letter currency code"),
    ("210201", "cur_code", "人民币", "cur_code must be a 3-letter currency code"),
    ("210201", "cert_no", "凭证1", "cert_no must be printable ASCII"),
    ("210201", "cert_no", "C" * 33, "cert_no is 33 characters; at most 32"),
    ("210201", "cert_no", "A|B", "cert_no must be printable ASCII"),
    ("210201", "summary", "货" * 31, "summary is 62 bytes in GB18030; at most 60"),
    ("210201", "summary", "a\tb", "summary contains control characters"),
    ("210201", "bank_flag", "2", "bank_flag must be 0 or 1: '2'"),
    ("210201", "area_flag", "Y", "area_flag must be 0 or 1: 'Y'"),
    ("210224", "partyid", "1021000999", "partyid must be 12 digits"),
    ("210224", "purpose", "用" * 31, "purpose is 62 bytes"),
    ("210224", "urgent_flag", "2", "urgent_flag must be 0 or 1"),
    ("310101", "acno", "acct 1", "acno must be at most 32"),
    ("310301", "start_date", "2026-11-01", "start_date must be a date YYYYMMDD"),
    ("310301", "start_date", "20261301", "start_date is not a calendar date"),
    ("310301", "end_date", "20260230", "end_date is not a calendar date"),
    ("310301", "end_date", "２０２６１１２４", "end_date must be a date YYYYMMDD"),
    ("310301", "begin_no", "1234567", "begin_no must be at most 6 digits"),
    ("310301", "begin_no", "-1", "begin_no must be at most 6 digits"),
    ("310301", "query_num", "12345", "query_num must be at most 4 digits"),
    ("310301", "query_num", "501", "query_num must be at most 500"),
    ("310301", "query_num", "ten", "query_num must be at most 4 digits"),
    ("310204", "query_flag", "4", "query_flag must be 1 or 2 or 3 (1 req_no then bank serial"),
    ("310204", "ogl_serial_no", "X" * 33, "ogl_serial_no is 33 characters; at most 32"),
    ("310204", "ogl_serial_no", "流水", "ogl_serial_no must be printable ASCII"),
]


@pytest.mark.parametrize(("tr_code", "name", "value", "info"), INVALID)
def test_invalid_fields_are_e001_naming_the_field(
    tr_code: str, name: str, value: str, info: str
) -> None:
    error = _refused(tr_code, {**VALID[tr_code], name: value})
    assert error.code == codes.INVALID_FIELD
    assert error.info.startswith(name)
    assert info in error.info


def test_text_widths_count_gb18030_bytes() -> None:
    assert _wire("210201", {**TRANSFER, "rcv_acname": "北" * 30}).fields["rcv_acname"]
    assert _wire("210201", {**TRANSFER, "rcv_acname": "a" * 60}).fields["rcv_acname"]


def test_repeated_or_nested_field_is_refused() -> None:
    error = _refused("310101", {"acno": [A1, A2]})
    assert (error.code, error.info) == (codes.INVALID_FIELD,
                                        "acno appears 2 times; expected one value")
    error = _refused("210201", {**TRANSFER, "amt": {"value": "1.00"}})
    assert error.info == "amt must be text, not nested elements"


def test_date_range_reversed_is_e013() -> None:
    error = _refused("310301", {**VALID["310301"], "start_date": "20261125"})
    assert error.code == codes.INVALID_DATE_RANGE
    assert error.info == "start_date 20261125 is after end_date 20261124"


def test_unknown_and_empty_tr_code() -> None:
    error = _refused("999999", {})
    assert error.code == codes.UNKNOWN_TR_CODE
    assert "999999" in error.info and "310101" in error.info
    error = _refused("", {})
    assert (error.code, error.info) == (codes.INVALID_FIELD, "missing field tr_code")


@pytest.mark.parametrize("req_no", ["R" * 33, "ERP 1", "单号1", "a|b", "a/b"])
def test_invalid_req_no(req_no: str) -> None:
    error = _refused("310101", {"acno": A1}, req_no=req_no)
    assert error.code == codes.INVALID_FIELD
    assert error.info.startswith("req_no")


def test_request_to_wire_needs_identity_first() -> None:
    with pytest.raises(ValueError, match="fill_identity"):
        request_to_wire(_doc("310101", {"acno": A1}, req_no=""))
    with pytest.raises(ValueError, match="corp_no"):
        request_to_wire(_doc("310101", {"acno": A1}, corp_no=""))


def test_wire_request_validates_itself() -> None:
    with pytest.raises(ValueError, match="tr_code"):
        WireRequest(tr_code="999999", req_no="R", corp_no=CORP, user_no=USER)


def test_every_kind_of_field_has_a_check() -> None:
    from daemon.erp import fields

    assert set(fields.CHECKS) == set(fields.Kind)


def test_each_family_declares_its_codes_rules_and_reply_together() -> None:
    from daemon.erp import tr_codes

    for family in tr_codes.FAMILIES:
        assert set(family.REQUEST_RULES) == set(family.REPLY_BODIES), family.__name__
    assert set(REQUEST_RULES) == {c for f in tr_codes.FAMILIES for c in f.REQUEST_RULES}


@given(
    st.sampled_from(sorted(SUPPORTED_TR_CODES)),
    st.dictionaries(
        st.sampled_from(sorted({r.name for rules in REQUEST_RULES.values() for r in rules}
                               | {"partyId", "x"})),
        st.one_of(st.text(max_size=70), st.lists(st.text(max_size=3), max_size=3),
                  st.just({"a": "b"})),
    ),
)
def test_any_body_is_converted_or_refused_with_an_erp_error(tr_code: str, body: dict) -> None:
    try:
        wire = _wire(tr_code, body)
    except ErpRequestError as exc:
        assert exc.code in codes.ALL
        return
    codec = CODECS[(tr_code, REQUEST)]
    assert codec.decode(codec.encode(wire.fields)) == wire.fields


# -- identity and req_no ----------------------------------------------------------------


def test_identity_filled_from_config() -> None:
    doc = _doc("310101", {"acno": A1}, corp_no="", user_no="", req_no="")
    filled = fill_identity(doc, corp_no=CORP, user_no=USER, assign_req_no=lambda: "DL1")
    assert (filled.head["corp_no"], filled.head["user_no"], filled.head["req_no"]) == (
        CORP, USER, "DL1")
    assert filled.body == doc.body
    assert doc.head["corp_no"] == ""  # the original is not modified


def test_identity_matching_is_kept_and_req_no_is_not_reassigned() -> None:
    doc = _doc("310101", {"acno": A1})
    filled = fill_identity(doc, corp_no=CORP, user_no=USER)
    assert filled.head == doc.head


@pytest.mark.parametrize(("name", "value"), [("corp_no", "0000000002"), ("user_no", "002"),
                                             ("user_no", "00001")])
def test_identity_mismatch_is_d005_naming_the_field(name: str, value: str) -> None:
    doc = _doc("310101", {"acno": A1}, **{name: value})
    with pytest.raises(ErpRequestError) as info:
        fill_identity(doc, corp_no=CORP, user_no=USER)
    assert info.value.code == codes.IDENTITY_MISMATCH
    assert info.value.info.startswith(f"{name} {value} ")
    assert info.value.head["req_no"] == "ERP-1"


def test_new_req_no_is_unique_and_fits() -> None:
    numbers = {new_req_no() for _ in range(20_000)}
    assert len(numbers) == 20_000
    for number in list(numbers)[:100]:
        assert re.fullmatch(r"DL\d{14}\d{6}[0-9a-f]{8}", number)
        assert len(number) <= 32
        # An assigned req_no passes the daemon's own req_no check.
        assert _wire("310101", {"acno": A1}, req_no=number).req_no == number


def test_new_req_no_uses_the_given_time() -> None:
    assert new_req_no(NOW).startswith("DL20261124101530")


def test_assigned_req_no_is_echoed() -> None:
    doc = fill_identity(_doc("310101", {"acno": A1}, req_no=""), corp_no=CORP, user_no=USER)
    wire = request_to_wire(doc)
    head, _ = reply_to_erp("310101", doc.head, _ok({"records": []}), clock=clock)
    assert head["req_no"] == wire.req_no == doc.head["req_no"]
    assert wire.req_no.startswith("DL")


# -- replies -------------------------------------------------------------------------------


def _ok(fields: dict, serial_no: str = "2026112400000101") -> WireReply:
    return WireReply(ret_code="0000", ret_msg="success", serial_no=serial_no, fields=fields)


HEAD_IN = {"tr_code": "310101", "corp_no": CORP, "user_no": USER, "req_no": "ERP-1"}

ACCOUNT = {
    "acname": ACNAME, "acno": A1, "cur_code": "CNY", "balance": 100000000,
    "avail_balance": 99950000, "open_date": "20200101", "acc_type": "01",
    "open_bank": "Simulated Bank", "err_msg": "", "succ_flag": "0",
}

ENTRY = {
    "tr_date": "20261124", "tr_time": "101500", "serial_no": "2026112400000102",
    "dc_flag": "D", "amt": 100000, "balance": 99900000, "opp_acno": A2,
    "opp_acname": ACNAME, "summary": "货款", "req_no": "ERP-2", "cert_no": "PAY-0001",
}


def test_reply_head() -> None:
    head, _ = reply_to_erp("310101", HEAD_IN, _ok({"records": [ACCOUNT]}), clock=clock)
    assert list(head) == list(REPLY_HEAD_FIELDS)
    assert head == {
        "tr_code": "310101", "corp_no": CORP, "req_no": "ERP-1",
        "serial_no": "2026112400000101", "ans_no": "", "next_no": "",
        "tr_acdt": "20261124", "tr_time": "101530", "ans_code": "0", "ans_info": "",
        "particular_code": "0000", "particular_info": "success",
        "atom_tr_count": "1", "reserved": "",
    }


def test_310101_one_account_cells_as_design_says() -> None:
    _, body = reply_to_erp("310101", HEAD_IN, _ok({"records": [ACCOUNT]}), clock=clock)
    cells = body["serial_record"].split("|")
    assert cells[:10] == [title for title, _ in ACCOUNT_COLUMNS]
    assert body["serial_record"].startswith(
        "户名|账号|币种|余额|可用余额|开户日期|账户类型|开户行|错误信息|成功标志|")
    assert cells[10:20] == [ACNAME, A1, "CNY", "1000000.00", "999500.00", "20200101", "01",
                            "Simulated Bank", "", "0"]
    assert cells[14] == "999500.00"  # available balance
    assert cells[18] == ""  # error message
    assert cells[19] == "0"  # success flag
    assert cells[20:] == [""]  # every cell is followed by "|"
    assert (body["field_num"], body["record_num"], body["file_flag"], body["filename"]) == (
        "10", "1", "0", "")
    assert list(body) == ["serial_record", "field_num", "record_num", "file_flag", "filename"]


def test_310101_several_accounts_and_a_failed_row() -> None:
    failed = {**dict.fromkeys(ACCOUNT, ""), "acno": A2, "balance": 0, "avail_balance": 0,
              "err_msg": "账户信息查询失败", "succ_flag": "1"}
    second = {**ACCOUNT, "acno": "310066726018010000003", "balance": -5, "avail_balance": 0}
    _, body = reply_to_erp("310101", HEAD_IN, _ok({"records": [ACCOUNT, failed, second]}),
                           clock=clock)
    cells = body["serial_record"].split("|")
    assert body["record_num"] == "3"
    assert cells[20:30] == ["", A2, "", "", "", "", "", "", "账户信息查询失败", "1"]
    assert cells[33] == "-0.05"
    assert len(cells) == 10 * 4 + 1


def test_pipes_and_line_breaks_in_cells_cannot_shift_columns() -> None:
    record = {**ACCOUNT, "acname": "A|B\r\nC", "open_bank": "x\ty"}
    _, body = reply_to_erp("310101", HEAD_IN, _ok({"records": [record]}), clock=clock)
    cells = body["serial_record"].split("|")
    assert len(cells) == 21
    assert cells[10] == "A｜B  C"
    assert cells[17] == "x y"


def test_310101_no_accounts() -> None:
    _, body = reply_to_erp("310101", HEAD_IN, _ok({"records": []}), clock=clock)
    assert body["serial_record"] == "".join(f"{t}|" for t, _ in ACCOUNT_COLUMNS)
    assert body["record_num"] == "0"


def test_310201_entries() -> None:
    credit = {**ENTRY, "dc_flag": "C", "amt": 1, "balance": 99900001, "req_no": "",
              "cert_no": ""}
    _, body = reply_to_erp("310201", {**HEAD_IN, "tr_code": "310201"},
                           _ok({"acno": A1, "records": [ENTRY, credit]}), clock=clock)
    cells = body["serial_record"].split("|")
    assert cells[:11] == [title for title, _ in ENTRY_COLUMNS]
    assert body["serial_record"].startswith(
        "交易日期|交易时间|流水号|借贷标志|发生额|余额|对方账号|对方户名|摘要|企业流水号|凭证号|")
    assert cells[11:22] == ["20261124", "101500", "2026112400000102", "D", "1000.00",
                            "999000.00", A2, ACNAME, "货款", "ERP-2", "PAY-0001"]
    assert cells[22:33] == ["20261124", "101500", "2026112400000102", "C", "0.01",
                            "999000.01", A2, ACNAME, "货款", "", ""]
    assert (body["field_num"], body["record_num"]) == ("11", "2")
    assert list(body) == ["serial_record", "field_num", "record_num", "file_flag", "filename"]


def test_310301_paging() -> None:
    fields = {"acno": A1, "total_num": 250, "begin_no": 101, "more_flag": "1",
              "records": [ENTRY] * 100}
    _, body = reply_to_erp("310301", HEAD_IN, _ok(fields), clock=clock)
    assert (body["total_num"], body["begin_no"], body["more_flag"]) == ("250", "101", "1")
    assert body["record_num"] == "100"
    assert len(body["serial_record"].split("|")) == 11 * 101 + 1


def test_wire_replies_decoded_by_the_wire_codec_convert() -> None:
    # The reply fields exactly as protocol.bodies decodes them.
    cases = {
        "310101": {"records": [ACCOUNT]},
        "310201": {"acno": A1, "records": [ENTRY]},
        "310301": {"acno": A1, "total_num": 1, "begin_no": 1, "more_flag": "0",
                   "records": [ENTRY]},
        "210201": {"stat": "1"},
        "210224": {"tran_status": "34"},
        "310204": {"ogl_serial_no": "ERP-3", "stat": "1", "err_msg": "", "pay_acno": A1,
                   "pay_bank_no": "301290000007", "rcv_acno": EXT,
                   "rcv_bank_no": "102100099996", "amt": 50000, "cert_no": "PAY-0002",
                   "auth_state": "0", "auth_level": 0, "auth_levels": 0, "waiting_for": ""},
    }
    for tr_code, fields in cases.items():
        codec = CODECS[(tr_code, RESPONSE)]
        decoded = codec.decode(codec.encode(fields))
        head, body = reply_to_erp(tr_code, HEAD_IN, _ok(decoded), clock=clock)
        assert head["ans_code"] == "0" and body


def test_210201_210224_310204_bodies() -> None:
    _, body = reply_to_erp("210201", HEAD_IN, _ok({"stat": "1"}), clock=clock)
    assert body == {"stat": "1"}
    _, body = reply_to_erp("210224", HEAD_IN, _ok({"tran_status": "34"}), clock=clock)
    assert body == {"tranStatus": "34"}
    status = {"ogl_serial_no": "ERP-3", "stat": "2", "err_msg": "account closed",
              "pay_acno": A1, "pay_bank_no": "301290000007", "rcv_acno": EXT,
              "rcv_bank_no": "102100099996", "amt": 50000, "cert_no": "PAY-0002"}
    _, body = reply_to_erp("310204", HEAD_IN, _ok(status), clock=clock)
    assert body == {**status, "amt": "500.00"}
    assert list(body) == list(status)


@pytest.mark.parametrize("tr_code", sorted(SUPPORTED_TR_CODES))
def test_refusal_has_an_empty_body(tr_code: str) -> None:
    reply = WireReply(ret_code="E008", ret_msg="insufficient available funds: 10.00 short",
                      serial_no="S9", fields={})
    head, body = reply_to_erp(tr_code, HEAD_IN, reply, clock=clock)
    assert body == {}
    assert (head["ans_code"], head["particular_code"], head["particular_info"]) == (
        "1", "E008", "insufficient available funds: 10.00 short")
    assert head["serial_no"] == "S9"
    assert head["tr_code"] == tr_code


def test_refusal_without_message_uses_the_registry_and_unknown_codes_pass_through() -> None:
    head, _ = reply_to_erp("210201", HEAD_IN, WireReply(ret_code=codes.ACCOUNT_FROZEN),
                           clock=clock)
    assert (head["particular_code"], head["particular_info"]) == ("E005", "account is frozen")
    head, body = reply_to_erp("210201", HEAD_IN, WireReply(ret_code="E099", ret_msg="new"),
                              clock=clock)
    assert (head["ans_code"], head["particular_code"], body) == ("1", "E099", {})


def test_ans_code_semantics() -> None:
    assert ans_code_for("0000") == "0"
    assert ans_code_for("D008") == "2"
    assert ans_code_for("D006") == "2"
    assert ans_code_for("A001") == "2"  # awaiting authorization: not final either
    for rc in codes.ALL:
        if rc.code not in ("0000", "D006", "D008", "A001"):
            assert ans_code_for(rc.code) == "1", rc


@pytest.mark.parametrize(
    ("tr_code", "body"),
    [("210201", {"stat": "3"}), ("210224", {"tranStatus": "20"}), ("310204", {}),
     ("310101", {}), ("310201", {}), ("310301", {})],
)
def test_outcome_unknown_reply(tr_code: str, body: dict) -> None:
    head, reply_body = outcome_unknown_reply(tr_code, HEAD_IN, clock=clock)
    assert reply_body == body
    assert (head["ans_code"], head["particular_code"]) == ("2", "D008")
    assert head["particular_info"] == codes.OUTCOME_UNKNOWN.message
    assert (head["tr_code"], head["req_no"], head["serial_no"]) == (tr_code, "ERP-1", "")
    assert head["tr_acdt"] == "20261124"


def test_error_reply_for_local_refusals() -> None:
    head, body = error_reply(codes.INVALID_FIELD, "missing field pay_acno",
                             {**HEAD_IN, "tr_code": "210201"}, clock=clock)
    assert body == {}
    assert (head["tr_code"], head["ans_code"], head["particular_code"],
            head["particular_info"]) == ("210201", "1", "E001", "missing field pay_acno")
    head, _ = error_reply(codes.XML_MALFORMED, "", {}, clock=clock)
    assert (head["tr_code"], head["req_no"], head["particular_info"]) == (
        "", "", codes.XML_MALFORMED.message)


def test_error_reply_in_flight_duplicate_is_not_a_failure() -> None:
    head, body = error_reply(codes.DUPLICATE_IN_FLIGHT, "",
                             {**HEAD_IN, "tr_code": "210224"}, clock=clock)
    assert head["ans_code"] == "2"
    assert body == {"tranStatus": "20"}


def test_error_reply_from_a_parse_error() -> None:
    with pytest.raises(ErpRequestError) as info:
        parse_request(b"<ap><head><tr_code>210201</tr_code><req_no>R7</req_no></head>")
    exc = info.value
    head, body = error_reply(exc.code, exc.info, exc.head, clock=clock)
    root = ET.fromstring(render_reply(head, body, encoding=exc.encoding).decode("gbk"))
    assert root.findtext("head/tr_code") == "210201"
    assert root.findtext("head/req_no") == "R7"
    assert root.findtext("head/particular_code") == "D001"


@pytest.mark.parametrize(
    ("tr_code", "fields", "message"),
    [
        ("310101", {}, "records"),
        ("310101", {"records": [{**ACCOUNT, "balance": "1000.00"}]}, "balance"),
        ("310101", {"records": [{**ACCOUNT, "balance": 1.5}]}, "balance"),
        ("310201", {"records": [{**ENTRY, "amt": None}]}, "amt"),
        ("310301", {"records": [], "begin_no": 1}, "total_num"),
        ("310204", {"stat": "1"}, "amt"),
        ("210224", {"tran_status": b"34"}, "tran_status"),
    ],
)
def test_unusable_wire_reply_is_a_wire_reply_error(
    tr_code: str, fields: dict, message: str
) -> None:
    with pytest.raises(WireReplyError, match=message):
        reply_to_erp(tr_code, HEAD_IN, _ok(fields), clock=clock)


def test_reply_to_erp_refuses_unsupported_tr_code() -> None:
    with pytest.raises(ValueError, match="999999"):
        reply_to_erp("999999", HEAD_IN, _ok({}), clock=clock)


def test_default_clock_is_china_standard_time() -> None:
    head, _ = outcome_unknown_reply("210201", HEAD_IN)
    now = dt.datetime.now(CST)
    assert abs(int(head["tr_acdt"]) - int(f"{now:%Y%m%d}")) <= 1
    assert re.fullmatch(r"\d{6}", head["tr_time"])


# -- property: reply_to_erp -> render_reply -> XML round-trips ----------------------------

_CELL_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn"), blacklist_characters="|"),
    max_size=20,
)
_FEN = st.integers(min_value=0, max_value=10**16 - 1)
_ENTRIES = st.lists(
    st.fixed_dictionaries({
        "tr_date": st.just("20261124"), "tr_time": st.just("101500"),
        "serial_no": st.from_regex(r"[0-9]{1,24}", fullmatch=True),
        "dc_flag": st.sampled_from("DC"), "amt": _FEN,
        "balance": st.integers(-(10**16) + 1, 10**16 - 1),
        "opp_acno": st.from_regex(r"[0-9]{1,32}", fullmatch=True),
        "opp_acname": _CELL_TEXT, "summary": _CELL_TEXT, "req_no": _CELL_TEXT,
        "cert_no": _CELL_TEXT,
    }),
    max_size=5,
)


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


@given(
    _ENTRIES,
    st.sampled_from([("GBK", "gbk"), ("GB18030", "gb18030"), ("UTF-8", "utf-8")]),
    _CELL_TEXT,
)
def test_detail_reply_round_trips_through_xml(entries: list, encoding: tuple,
                                              req_no: str) -> None:
    head_in = {**HEAD_IN, "tr_code": "310201", "req_no": req_no}
    head, body = reply_to_erp("310201", head_in, _ok({"acno": A1, "records": entries}),
                              clock=clock)
    root = ET.fromstring(render_reply(head, body, encoding=encoding[0]).decode(encoding[1]))
    assert (root.findtext("head/req_no") or "") == req_no
    assert int(root.findtext("body/record_num")) == len(entries)
    cells = (root.findtext("body/serial_record") or "").split("|")
    assert cells[-1] == ""
    rows = [cells[i : i + 11] for i in range(11, len(cells) - 1, 11)]
    assert len(rows) == len(entries)
    for row, entry in zip(rows, entries, strict=True):
        expected = [
            _yuan(entry[name]) if name in ("amt", "balance") else entry[name]
            for _, name in ENTRY_COLUMNS
        ]
        assert row == expected


@given(
    st.fixed_dictionaries({
        "ogl_serial_no": _CELL_TEXT, "stat": st.sampled_from("01234"), "err_msg": _CELL_TEXT,
        "pay_acno": _CELL_TEXT, "pay_bank_no": _CELL_TEXT, "rcv_acno": _CELL_TEXT,
        "rcv_bank_no": _CELL_TEXT, "amt": _FEN, "cert_no": _CELL_TEXT,
    }),
    st.sampled_from([("GBK", "gbk"), ("UTF-8", "utf-8")]),
)
def test_status_reply_round_trips_through_xml(fields: dict, encoding: tuple) -> None:
    head, body = reply_to_erp("310204", HEAD_IN, _ok(fields), clock=clock)
    root = ET.fromstring(render_reply(head, body, encoding=encoding[0]).decode(encoding[1]))
    for name, value in fields.items():
        expected = _yuan(value) if name == "amt" else value
        assert (root.findtext(f"body/{name}") or "") == expected
    assert [child.tag for child in root.find("head")] == list(REPLY_HEAD_FIELDS)
    assert root.findtext("head/particular_code") == "0000"


def test_a_flag_whose_choices_include_empty_names_it_in_its_refusal():
    from daemon.erp.batches import REQUEST_RULES as BATCH_RULES
    from daemon.erp.fields import FieldError, convert

    status = next(rule for rule in BATCH_RULES["310208"] if rule.name == "status")
    with pytest.raises(FieldError) as caught:
        convert(status, "3")
    assert str(caught.value) == "status must be empty or F or E or P: '3'"
