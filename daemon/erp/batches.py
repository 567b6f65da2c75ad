"""The ERP's batch codes: 330002, 330010 (inline or by file), 310207, 310208, 310210.

Each code is declared here once: its body fields (:data:`REQUEST_RULES`, in
the same :class:`~daemon.erp.fields.FieldRule` form as every other code, so the
same checks and docs apply), how it travels to the bank, and how the bank's
answer becomes the ERP's reply body. Unlike the single-request codes a batch
may take many wire requests — its segments, then the pages of its results —
so :class:`BatchHandler` drives the core link itself.

* **Inline** (``file_flag`` 0, at most 3,000 ``<tran><rcd>`` items): the items
  are checked, sent in segments, executed at once by the bank, and the reply
  carries every item's result (``busino``, ``sucFlg``, ``flw``, ``err_code``,
  ``err_msg``).
* **File** (``file_flag`` 1, ``filename`` in the exchange folder): the file
  is checked line by line first (D010, D011, or E017 when ``sum``/``sum_amt``
  do not match it) and then streamed; the reply comes once the bank holds
  the whole file (state 2, processing).
* **310207** answers the batch's state and counts; with ``file_flag`` 1 it
  writes ``FILENAME.result`` into the exchange folder and names it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from daemon import batch_files, batch_link
from daemon.batch_files import BatchFileError
from daemon.core_link import CoreLink
from daemon.erp.approvals import authorization_body
from daemon.erp.fields import (
    FieldError,
    FieldRule,
    Kind,
    acno_rule,
    ascii_rule,
    convert_fields,
    count_rule,
    flag_rule,
    text_rule,
)
from daemon.erp_xml import ErpDocument, ErpRequestError
from protocol import codes
from protocol.bodies import ACNAME, CERT_NO, REQ_NO, SUMMARY
from protocol.events import Request, Response
from protocol.money import format_yuan

log = logging.getLogger("directlink.erp.batch")

PAYMENT = "330002"
COLLECTION = "330010"
STATUS = "310207"
ITEMS = "310208"
AGREEMENTS = "310210"
SUBMIT_CODES = frozenset({PAYMENT, COLLECTION})
TR_CODES = frozenset({PAYMENT, COLLECTION, STATUS, ITEMS, AGREEMENTS})

INLINE_MAX = 3000


_FILE_FLAG = flag_rule("file_flag", "0 = items inline in `<tran>` (at most 3000), "
                                     "1 = items in `filename` (文件标志); empty = 0")
_FILENAME = ascii_rule("filename", 128, "the batch file's bare name in the exchange folder "
                                        "(file_flag 1)")
_SUM = count_rule("sum", 8, "number of items (总笔数)", required=True)
_SUM_AMT = FieldRule(name="sum_amt", kind=Kind.AMOUNT, required=True,
                     doc="total of the items, yuan (总金额)")

#: Batch-level body fields per tr_code, in wire order.
REQUEST_RULES: dict[str, tuple[FieldRule, ...]] = {
    PAYMENT: (
        ascii_rule("cert_no", CERT_NO, "the enterprise's voucher number (凭证号)"),
        acno_rule("pay_acno", "the enterprise's paying account (付款账号)"),
        ascii_rule("type", 1, "batch type (类型), BoCom sends S"),
        _SUM, _SUM_AMT,
        ascii_rule("pay_month", 6, "month paid for, YYYYMM (代发月份)"),
        text_rule("summary", SUMMARY, "summary (摘要)"),
        ascii_rule("busi_no", 10, "payroll agreement number (代发协议号)"),
        ascii_rule("mailflg", 1, "Y/N: notify the payees (通知标志)"),
        _FILE_FLAG, _FILENAME,
    ),
    COLLECTION: (
        ascii_rule("cert_no", CERT_NO, "the enterprise's voucher number (凭证号)"),
        acno_rule("rcv_acno", "the enterprise's collecting account (收款账号)"),
        _SUM, _SUM_AMT,
        text_rule("summary", SUMMARY, "summary (摘要)"),
        ascii_rule("busi_no", 10, "fee item code (费项代码)"),
        _FILE_FLAG, _FILENAME,
    ),
    STATUS: (
        ascii_rule("ogl_serial_no", REQ_NO, "the batch's req_no (原批次流水号)", required=True),
        flag_rule("file_flag", "1 = write FILENAME.result into the exchange folder; empty = 0"),
        _FILENAME,
    ),
    ITEMS: (
        ascii_rule("ogl_serial_no", REQ_NO, "the batch's req_no (原批次流水号)", required=True),
        flag_rule("status", "only items with this sucFlg; empty = every item",
                  choices=("", "F", "E", "P")),
        count_rule("begin_no", 8, "first item wanted, 1-based; empty or 0 = 1"),
        count_rule("query_num", 4, "items wanted; empty or 0 = 1000", maximum=1000),
    ),
    AGREEMENTS: (
        acno_rule("rcv_acno", "the enterprise's collecting account (收款账号)"),
        count_rule("begin_no", 8, "first record wanted, 1-based; empty or 0 = 1"),
        count_rule("query_num", 4, "records wanted; empty or 0 = 1000", maximum=1000),
    ),
}

#: The fields of each inline ``<rcd>`` item.
ITEM_RULES: dict[str, tuple[FieldRule, ...]] = {
    PAYMENT: (
        acno_rule("card_no", "payee's card or passbook number (卡号)", width=21),
        text_rule("acname", ACNAME, "payee name (户名)", required=True),
        flag_rule("card_flag", "0 card, 1 passbook (卡折标志); empty = 0"),
        FieldRule(name="amt", kind=Kind.AMOUNT, required=True, doc="amount, yuan (金额)"),
        ascii_rule("busino", 20, "the item's own reference, unique in the batch (业务编号)",
                   required=True),
    ),
    COLLECTION: (
        acno_rule("pay_acno", "payer account (付款账号)"),
        text_rule("pay_acname", ACNAME, "payer name (付款户名)", required=True),
        ascii_rule("agreement_no", 20, "the payer's collection agreement (协议号)", required=True),
        FieldRule(name="amt", kind=Kind.AMOUNT, required=True, doc="amount, yuan (金额)"),
        ascii_rule("busino", 20, "the item's own reference, unique in the batch (业务编号)",
                   required=True),
        FieldRule(name="pay_bank_no", kind=Kind.BANK_NO,
                  doc="payer's bank (付款行行号), empty = this bank"),
    ),
}

_STATE_NAMES = {"0": "received", "1": "awaiting authorization", "2": "processing",
                "3": "finished", "4": "refused", "5": "cancelled", "6": "no such batch"}


def _inline_items(tr_code: str, body: Mapping[str, object]) -> list[dict[str, object]]:
    tran = body.get("tran", "")
    if tran == "":
        raise FieldError("an inline batch (file_flag 0) lists its items in <tran><rcd>")
    if not isinstance(tran, Mapping):
        raise FieldError("<tran> must hold <rcd> elements")
    records = tran.get("rcd", [])
    if isinstance(records, Mapping):
        records = [records]
    if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
        raise FieldError("every <rcd> in <tran> must hold the item's fields")
    if len(records) > INLINE_MAX:
        raise FieldError(f"an inline batch holds at most {INLINE_MAX} items, this one "
                          f"{len(records)}; send it as a file (file_flag 1)")
    items = [convert_fields(ITEM_RULES[tr_code], record, f"item {n}: ")
             for n, record in enumerate(records, start=1)]
    if tr_code == PAYMENT:
        for item in items:
            item["card_flag"] = item["card_flag"] or "0"
    return items


class BatchHandler:
    """Turn one ERP batch request into its wire requests and its reply body."""

    def __init__(self, link: CoreLink, *, files_dir: Path, encoding: str,
                 new_req_no: Callable[[], str], timeout: float) -> None:
        self.link = link
        self.files_dir = files_dir
        self.encoding = encoding
        self.new_req_no = new_req_no
        self.timeout = timeout

    def _refuse(self, doc: ErpDocument, code: codes.ReturnCode, info: str) -> ErpRequestError:
        return ErpRequestError(code, info, doc.head, encoding=doc.encoding)

    async def handle(self, doc: ErpDocument) -> tuple[str, str, str, dict[str, object]]:
        """(particular_code, info, serial_no, body) for an identified batch request."""
        tr_code = doc.head["tr_code"]
        try:
            fields = convert_fields(REQUEST_RULES[tr_code], doc.body)
            if tr_code in SUBMIT_CODES:
                return await self._submit(doc, tr_code, fields)
        except FieldError as exc:
            raise self._refuse(doc, exc.code, exc.info) from None
        except BatchFileError as exc:
            raise self._refuse(doc, exc.code, exc.info) from None
        if tr_code == STATUS:
            return await self._status(doc, fields)
        return await self._page(doc, tr_code, fields)

    # -- 330002 / 330010 --------------------------------------------------------------

    async def _submit(self, doc: ErpDocument, tr_code: str, fields: dict[str, object]):
        req_no = doc.head["req_no"]
        filename = str(fields.pop("filename"))
        header = {key: value for key, value in fields.items()}
        if fields["file_flag"] == "1":
            path = batch_files.exchange_path(self.files_dir, filename)
            scan = batch_files.scan(path, tr_code, self.encoding)
            self._check_totals(fields, scan.count, scan.total, f"file {filename}")
            segments = batch_files.segments(path, tr_code, self.encoding)
            self._remember(req_no, filename)
        else:
            items = _inline_items(tr_code, doc.body)
            self._check_totals(fields, len(items), sum(int(i["amt"]) for i in items), "items")
            segments = [items[i:i + 1000] for i in range(0, len(items), 1000)] or [[]]
        try:
            answer = await batch_link.submit(self.link, tr_code, req_no, header, segments,
                                             timeout=self.timeout)
        except batch_link.BatchRefused as refused:
            return _refusal(refused.answer)
        body = _status_body(answer.fields)
        if fields["file_flag"] == "1":
            body.update(sum=str(fields["sum"]), sum_amt=format_yuan(int(fields["sum_amt"])),
                        file_flag="1", filename=filename)
            return answer.ret_code, answer.ret_msg, answer.serial_no, body
        if answer.ret_code == codes.AWAITING_AUTHORIZATION.code:
            # Nothing executed yet: no item has a result to list.
            body["tran"] = {"rcd": []}
            return answer.ret_code, answer.ret_msg, answer.serial_no, body
        records = []
        async for page in batch_link.items(self.link, req_no, self.new_req_no,
                                           timeout=self.timeout):
            records += [{"busino": r["busino"], "sucFlg": r["suc_flg"], "flw": r["flw"],
                         "err_code": r["err_code"], "err_msg": r["err_msg"]} for r in page]
        body["tran"] = {"rcd": records}
        return codes.OK.code, answer.ret_msg, answer.serial_no, body

    def _check_totals(self, fields: Mapping[str, object], count: int, total: int,
                      what: str) -> None:
        if count != fields["sum"] or total != fields["sum_amt"]:
            raise FieldError(
                f"{what}: {count} items totalling {format_yuan(total)}, but sum {fields['sum']}"
                f" and sum_amt {format_yuan(int(fields['sum_amt']))}", codes.BATCH_TOTALS)

    # The exchange folder keeps which file each batch came from, so that 310207
    # can write its result file without being told the name again.
    def _index(self) -> Path:
        return self.files_dir / ".directlink-batches.jsonl"

    def _remember(self, req_no: str, filename: str) -> None:
        try:
            with self._index().open("a", encoding="utf-8") as index:
                index.write(json.dumps({"req_no": req_no, "filename": filename}) + "\n")
        except OSError as exc:
            log.warning("cannot note batch %s's file in %s: %s", req_no, self._index(), exc)

    def _recall(self, req_no: str) -> str:
        found = ""
        try:
            with self._index().open(encoding="utf-8") as index:
                for line in index:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("req_no") == req_no:
                        found = str(entry.get("filename", ""))
        except OSError:
            pass
        return found

    # -- 310207 -------------------------------------------------------------------------

    async def _status(self, doc: ErpDocument, fields: dict[str, object]):
        req_no = str(fields["ogl_serial_no"])
        answer = await self.link.request(
            _wire(STATUS, self.new_req_no(), {"ogl_serial_no": req_no}), timeout=self.timeout)
        if not isinstance(answer, Response) or not answer.ok:
            return _refusal(answer)
        wire = answer.fields
        body = {"ogl_serial_no": req_no, "batch_tr_code": wire["batch_tr_code"],
                "sum": str(wire["sum"]), "sum_amt": format_yuan(int(wire["sum_amt"])),
                **_status_body(wire), "file_flag": "0", "filename": ""}
        if fields["file_flag"] == "1" and wire["state"] not in ("4", "6"):
            filename = str(fields["filename"]) or self._recall(req_no)
            if not filename:
                raise self._refuse(doc, codes.BATCH_FILE,
                                   f"batch {req_no} was not sent as a file; name it in filename")
            try:
                path = batch_files.exchange_path(self.files_dir, filename)
            except BatchFileError as exc:
                raise self._refuse(doc, exc.code, exc.info) from None
            try:
                with batch_files.ResultWriter(path, self.encoding) as writer:
                    async for page in batch_link.items(self.link, req_no, self.new_req_no,
                                                       timeout=self.timeout):
                        writer.feed((r["suc_flg"], r["flw"], r["err_code"], r["err_msg"])
                                    for r in page)
                    written = writer.finish()
            except ValueError as exc:
                raise self._refuse(doc, codes.BATCH_FILE, str(exc)) from None
            body.update(file_flag="1", filename=written.name)
        return codes.OK.code, answer.ret_msg, answer.serial_no, body

    # -- 310208 / 310210 ------------------------------------------------------------------

    async def _page(self, doc: ErpDocument, tr_code: str, fields: dict[str, object]):
        wire = dict(fields)
        if tr_code == ITEMS:
            wire["status"] = wire["status"] or ""
        answer = await self.link.request(_wire(tr_code, self.new_req_no(), wire),
                                         timeout=self.timeout)
        if not isinstance(answer, Response) or not answer.ok:
            return _refusal(answer)
        out = answer.fields
        body: dict[str, object] = {key: str(out[key]) for key in
                                   ("total_num", "begin_no", "more_flag")}
        if tr_code == ITEMS:
            body = {"ogl_serial_no": out["ogl_serial_no"], **body}
            records = [{"seq": str(r["seq"]), "busino": r["busino"], "acno": r["acno"],
                        "acname": r["acname"], "amt": format_yuan(r["amt"]),
                        "sucFlg": r["suc_flg"], "flw": r["flw"], "err_code": r["err_code"],
                        "err_msg": r["err_msg"]} for r in out["records"]]
        else:
            body = {"rcv_acno": out["rcv_acno"], **body}
            records = [{"agreement_no": r["agreement_no"], "payer_acno": r["payer_acno"],
                        "payer_name": r["payer_name"], "payer_bank_no": r["payer_bank_no"],
                        "max_amt": format_yuan(r["max_amt"]) if r["max_amt"] else "",
                        "valid_to": r["valid_to"], "status": r["status"]}
                       for r in out["records"]]
        body["tran"] = {"rcd": records}
        return codes.OK.code, answer.ret_msg, answer.serial_no, body


def _wire(tr_code: str, req_no: str, fields: Mapping[str, object]) -> Request:
    return Request(tr_code=tr_code, req_no=req_no, fields=fields)


def _status_body(wire: Mapping[str, object]) -> dict[str, object]:
    return {
        "state": str(wire["state"]),
        "state_info": _STATE_NAMES.get(str(wire["state"]), ""),
        "received": str(wire["received"]),
        "ok_count": str(wire["ok_count"]), "ok_amt": format_yuan(int(wire["ok_amt"])),
        "fail_count": str(wire["fail_count"]), "fail_amt": format_yuan(int(wire["fail_amt"])),
        "pending_count": str(wire["pending_count"]),
        "pending_amt": format_yuan(int(wire["pending_amt"])),
        "err_code": str(wire["err_code"]), "err_msg": str(wire["err_msg"]),
        **authorization_body(wire),
    }


def _refusal(answer) -> tuple[str, str, str, dict[str, object]]:
    """The bank's refusal (a Response or an ErrorMessage) as the ERP sees it: no body."""
    code = codes.lookup(answer.ret_code)
    return (answer.ret_code, answer.ret_msg or (code.message if code else ""),
            getattr(answer, "serial_no", ""), {})
