"""Return codes: one code per reason, in one ordered, documented list.

The same four-character codes appear in the wire header (``ret_code``) and in
the ERP reply head (``particular_code``). ``0000`` is success; ``P`` codes are
protocol and security failures, ``E`` codes are the bank's business refusals,
``D`` codes come from the client daemon itself; ``A`` codes say an
instruction waits for the enterprise's own approvals (not final, not failed). docs/protocol.md and
docs/erp-interface.md carry this table and tests check that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReturnCode:
    code: str
    name: str
    message: str

    def __str__(self) -> str:
        return self.code


def _c(code: str, name: str, message: str) -> ReturnCode:
    return ReturnCode(code, name, message)


OK = _c("0000", "OK", "success")

# -- protocol and security (wire level) -------------------------------------
MALFORMED_FRAME = _c("P001", "MALFORMED_FRAME", "malformed message")
FRAME_TOO_LARGE = _c("P002", "FRAME_TOO_LARGE", "frame exceeds the maximum size")
UNSUPPORTED_VERSION = _c("P003", "UNSUPPORTED_VERSION", "unsupported protocol version")
UNKNOWN_MESSAGE_TYPE = _c("P004", "UNKNOWN_MESSAGE_TYPE", "unknown message type")
UNKNOWN_TR_CODE = _c("P005", "UNKNOWN_TR_CODE", "unknown transaction code")
OUT_OF_STATE = _c("P006", "OUT_OF_STATE", "message not allowed in the session's state")
AUTHENTICATION_FAILED = _c("P010", "AUTHENTICATION_FAILED", "authentication failed")
PLAINTEXT_REFUSED = _c("P011", "PLAINTEXT_REFUSED", "unsigned, unencrypted messages are refused")
NOT_ENROLLED = _c("P012", "NOT_ENROLLED", "enterprise or operator not enrolled")
BANK_FAULT = _c("P020", "BANK_FAULT",
                    "bank internal error; outcome unknown, query with 310204")
SHUTTING_DOWN = _c("P021", "SHUTTING_DOWN", "bank is shutting down; request not executed")
RESULT_TOO_LARGE = _c("P022", "RESULT_TOO_LARGE",
                      "reply too large for one message; narrow the query or page it")

# -- business refusals (the bank core) --------------------------------------
INVALID_FIELD = _c("E001", "INVALID_FIELD", "missing or invalid field")
INVALID_AMOUNT = _c("E002", "INVALID_AMOUNT", "amount not positive or more than two decimals")
UNKNOWN_ACCOUNT = _c("E003", "UNKNOWN_ACCOUNT", "no such account")
NOT_OWN_ACCOUNT = _c("E004", "NOT_OWN_ACCOUNT", "account does not belong to the enterprise")
ACCOUNT_FROZEN = _c("E005", "ACCOUNT_FROZEN", "account is frozen")
ACCOUNT_CLOSED = _c("E006", "ACCOUNT_CLOSED", "account is closed")
CURRENCY_MISMATCH = _c("E007", "CURRENCY_MISMATCH", "currency not supported for this account")
INSUFFICIENT_FUNDS = _c("E008", "INSUFFICIENT_FUNDS", "insufficient available funds")
SINGLE_LIMIT = _c("E009", "SINGLE_LIMIT", "single-transaction limit exceeded")
DAILY_LIMIT = _c("E010", "DAILY_LIMIT", "daily limit exceeded")
DUPLICATE_REQ_NO = _c("E011", "DUPLICATE_REQ_NO", "req_no already used with different content")
SAME_ACCOUNT = _c("E012", "SAME_ACCOUNT", "payer and payee are the same account")
INVALID_DATE_RANGE = _c("E013", "INVALID_DATE_RANGE", "invalid date range")
WRONG_BANK = _c("E014", "WRONG_BANK", "receiving bank does not match the transfer type")
ACCOUNT_NAME_MISMATCH = _c("E015", "ACCOUNT_NAME_MISMATCH", "account name does not match")
INTERNAL_ERROR = _c("E016", "INTERNAL_ERROR", "the bank could not process it; nothing was done")
BATCH_TOTALS = _c("E017", "BATCH_TOTALS",
                  "sum or sum_amt does not match the batch's items; nothing executed")
DUPLICATE_BUSINO = _c("E018", "DUPLICATE_BUSINO",
                      "busino repeated within the batch; nothing executed")
SEGMENT_OUT_OF_ORDER = _c("E019", "SEGMENT_OUT_OF_ORDER",
                          "batch segment out of order; send the segment the bank expects")
PAYEE_NOT_HERE = _c("E020", "PAYEE_NOT_HERE", "payee is not a personal account at this bank")
NO_AGREEMENT = _c("E021", "NO_AGREEMENT", "no collection agreement with this number")
AGREEMENT_REVOKED = _c("E022", "AGREEMENT_REVOKED", "collection agreement revoked")
AGREEMENT_EXPIRED = _c("E023", "AGREEMENT_EXPIRED", "collection agreement expired")
OVER_AGREEMENT_MAX = _c("E024", "OVER_AGREEMENT_MAX",
                        "amount above the agreement's maximum per collection")
AGREEMENT_MISMATCH = _c("E025", "AGREEMENT_MISMATCH",
                        "agreement is for another payer or collecting account")
NO_SUCH_BATCH = _c("E026", "NO_SUCH_BATCH", "no batch with this req_no")
DIRECTED_PAYEE = _c("E027", "DIRECTED_PAYEE",
                    "this account pays only its directed payees (定向汇款)")
MONTHLY_LIMIT = _c("E028", "MONTHLY_LIMIT", "monthly limit exceeded")
PERSONAL_SINGLE_LIMIT = _c("E029", "PERSONAL_SINGLE_LIMIT",
                           "corp-to-personal single-transaction limit exceeded")
PERSONAL_DAILY_LIMIT = _c("E030", "PERSONAL_DAILY_LIMIT",
                          "corp-to-personal daily limit exceeded")
PERSONAL_MONTHLY_LIMIT = _c("E031", "PERSONAL_MONTHLY_LIMIT",
                            "corp-to-personal monthly limit exceeded")
NOT_AWAITING = _c("E032", "NOT_AWAITING",
                  "no instruction with this req_no awaits authorization")
NOT_AN_APPROVER = _c("E033", "NOT_AN_APPROVER",
                     "the operator may not approve the waiting level")
SELF_APPROVAL = _c("E034", "SELF_APPROVAL", "an operator may not approve their own instruction")
ALREADY_APPROVED = _c("E035", "ALREADY_APPROVED",
                      "the operator has already approved this instruction")
WRONG_ORDER = _c("E036", "WRONG_ORDER", "an earlier level must approve first")
OPERATOR_KEY = _c("E037", "OPERATOR_KEY",
                  "the operator has no enrolled key, or it was revoked or replaced")
BAD_SIGNATURE = _c("E038", "BAD_SIGNATURE",
                   "the operator's signature does not verify; nothing was decided")
NO_SUCH_RECEIPT = _c("E039", "NO_SUCH_RECEIPT", "no receipt matches")

# -- authorization (the enterprise's own approvals) -------------------------
AWAITING_AUTHORIZATION = _c("A001", "AWAITING_AUTHORIZATION",
                            "accepted, awaiting authorization: not final, nothing moved yet")

# -- client daemon (ERP interface) -------------------------------------------
XML_MALFORMED = _c("D001", "XML_MALFORMED", "request is not well-formed XML")
XML_TOO_LARGE = _c("D002", "XML_TOO_LARGE", "request exceeds the size limit")
XML_STRUCTURE = _c("D003", "XML_STRUCTURE",
                    "request lacks <ap><head>...</head><body>...</body></ap>")
ENCODING_ERROR = _c("D004", "ENCODING_ERROR",
                     "request cannot be decoded in the configured encoding")
IDENTITY_MISMATCH = _c("D005", "IDENTITY_MISMATCH",
                        "corp_no or user_no is not the configured enterprise's")
DUPLICATE_IN_FLIGHT = _c("D006", "DUPLICATE_IN_FLIGHT",
                          "a request with this req_no is already in flight")
CORE_UNAVAILABLE = _c("D007", "CORE_UNAVAILABLE", "bank not reachable; the request was not sent")
OUTCOME_UNKNOWN = _c("D008", "OUTCOME_UNKNOWN", "processing: outcome unknown, query with 310204")
DAEMON_BUSY = _c("D009", "DAEMON_BUSY", "client is shutting down or overloaded; request not sent")
BATCH_FILE = _c("D010", "BATCH_FILE",
                "batch file missing, unreadable, or not a bare name in the exchange folder")
BATCH_FILE_LINE = _c("D011", "BATCH_FILE_LINE", "a line of the batch file is invalid")

#: Answers that carry the transaction's reply body: success, and an instruction
#: held for authorization (whose body says "processing": not final).
WITH_BODY: frozenset[str] = frozenset({OK.code, AWAITING_AUTHORIZATION.code})

ALL: tuple[ReturnCode, ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, ReturnCode)
)
BY_CODE: dict[str, ReturnCode] = {rc.code: rc for rc in ALL}

assert len(BY_CODE) == len(ALL), "return codes must be unique"


def lookup(code: str) -> ReturnCode | None:
    return BY_CODE.get(code)
