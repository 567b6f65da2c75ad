"""Wire bodies of the enterprise's audit log: 310240.

The bank keeps, per enterprise, a row for every instruction, refusal,
approval, rejection, expiry and cancellation, and for every change at the
bank counter to its operators, keys, flows and directed payees
(:mod:`core_sim.audit`). 310240 pages through the enterprise's own rows,
oldest first, filtered by business date, req_no and operator. Merged into
:data:`protocol.bodies.BODIES`.
"""

from __future__ import annotations

from construct import Struct

from protocol.fields import Choice, Digits, Text, field, records

# The widths of protocol.bodies, repeated here to keep this module free of
# a circular import; tests/test_protocol_docs.py renders both.
AMT, REQ_NO, COUNT = 16, 32, 8
OPERATOR = 20
EVENT = 16
RESULT = 60
DETAIL = 200
#: When a row was written: YYYY-MM-DDThh:mm:ss, China time.
AT = 19

AUDIT_RECORD = Struct(
    field("at", Text(AT, "ascii"), "when, YYYY-MM-DDThh:mm:ss (China time)"),
    field("event", Text(EVENT, "ascii"),
          "instruction, refusal, awaiting, approval, rejection, authorized, expiry, "
          "cancel, decision_refused or counter"),
    field("tr_code", Text(6, "ascii"), "the instruction's tr_code; blank for the counter"),
    field("req_no", Text(REQ_NO, "ascii"), "the instruction's req_no; blank for the counter"),
    field("operator", Text(OPERATOR),
          "who: the maker, the deciding operator, or the operator changed at the counter"),
    field("amt", Digits(AMT), "amount (a batch: its total), fen; 0 when none"),
    field("result", Text(RESULT), "what came of it: a return code, a status or the change"),
    field("detail", Text(DETAIL), "in words"),
)

BODIES = {
    ("310240", "request"): Struct(
        field("start_date", Text(8, "ascii"), "first business date, YYYYMMDD; blank = from "
              "the first row"),
        field("end_date", Text(8, "ascii"), "last business date, YYYYMMDD; blank = to the "
              "last row"),
        field("ogl_serial_no", Text(REQ_NO, "ascii"), "only this instruction's rows; "
              "blank = all"),
        field("operator", Text(OPERATOR, "ascii"), "only this operator's rows; blank = all"),
        field("begin_no", Digits(COUNT), "first record wanted, 1-based (0 = 1)"),
        field("query_num", Digits(4), "records wanted (0 = 1000; at most 1000)"),
    ),
    ("310240", "response"): Struct(
        field("total_num", Digits(COUNT), "rows matching"),
        field("begin_no", Digits(COUNT), "number of the first record returned"),
        field("more_flag", Choice(1, ("0", "1")), "1 = more records follow this page"),
        records("records", AUDIT_RECORD, "audit rows, oldest first"),
    ),
}
