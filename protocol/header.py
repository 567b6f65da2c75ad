"""The fixed-format message header: 256 ASCII-readable bytes, declared once.

Every message is ``header | body | signature``. The header is fixed-width text
in the tradition of Chinese bank direct-connect protocols, so a hex dump reads
like a form: magic and version, message type, who sends (corp_no, user_no),
what (tr_code, req_no, the bank's serial_no), when, the return code and
message, security flags and the signing key id, the lengths of the body and
signature that follow, and the session sequence number.

``tr_date``/``tr_time`` are the sender's clock in China Standard Time
(UTC+08:00). ``reserved`` is written as spaces and ignored on receipt, so a
later minor version may give it meaning (see docs/protocol.md, Versioning).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from construct import Struct

from protocol import codes
from protocol.codec import RecordCodec
from protocol.errors import DecodeError, UnsupportedVersion
from protocol.fields import Choice, Digits, Raw, Text, field

MAGIC = "DLNK"
VERSION_MAJOR = 1
VERSION_MINOR = 0
HEADER_SIZE = 256


class MessageType:
    """The two-letter message types."""

    REQUEST = "RQ"
    RESPONSE = "RS"
    HANDSHAKE = "HS"
    HANDSHAKE_ACK = "HA"
    ERROR = "ER"
    HEARTBEAT = "HB"

    ALL = (REQUEST, RESPONSE, HANDSHAKE, HANDSHAKE_ACK, ERROR, HEARTBEAT)


SIGN_NONE = "00"
SIGN_ED25519 = "01"


def _h(name, con, doc):
    return field(name, con, doc, part="header")


HEADER = Struct(
    _h("magic", Text(4, "ascii"), "`DLNK`"),
    _h("version", Digits(2), "major protocol version; a different major is refused"),
    _h("minor", Digits(2), "minor protocol version of this message"),
    _h("msg_type", Choice(2, MessageType.ALL), "RQ request, RS response, HS handshake, "
       "HA handshake accepted, ER error, HB heartbeat"),
    _h("corp_no", Text(20, "ascii"), "enterprise code (e-banking customer number)"),
    _h("user_no", Text(20, "ascii"), "direct-connect operator"),
    _h("tr_code", Text(6, "ascii"), "transaction code (RQ/RS; blank otherwise)"),
    _h("req_no", Text(32, "ascii"), "the enterprise's request serial number"),
    _h("serial_no", Text(24, "ascii"), "the bank's serial number (RS)"),
    _h("tr_date", Text(8, "ascii"), "sender's date, YYYYMMDD, UTC+08:00"),
    _h("tr_time", Text(6, "ascii"), "sender's time, hhmmss, UTC+08:00"),
    _h("ret_code", Text(4, "ascii"), "return code (RS/ER/HA), `0000` = success"),
    _h("ret_msg", Text(60), "return message, GB18030"),
    _h("sign_flag", Choice(1, ("0", "1")), "1 = signature follows the body"),
    _h("encrypt_flag", Choice(1, ("0", "1")), "1 = body is AES-256-GCM ciphertext"),
    _h("more_flag", Choice(1, ("0", "1")), "1 = more fragments follow (batch messages)"),
    _h("frag_no", Digits(4), "fragment number, 0 for an unfragmented message"),
    _h("key_id", Text(16, "ascii"), "signing key id: first 16 hex digits of its fingerprint"),
    _h("sign_alg", Choice(2, (SIGN_NONE, SIGN_ED25519)), "00 none, 01 Ed25519"),
    _h("body_len", Digits(8), "length of the body on the wire (ciphertext when encrypted)"),
    _h("sig_len", Digits(4), "length of the signature (64 for Ed25519, 0 when unsigned)"),
    _h("seq_no", Digits(12), "sender's sequence number in this session (0 in the handshake)"),
    _h("reserved", Raw(17), "spaces; ignored on receipt"),
)
_CODEC = RecordCodec(HEADER)
#: Byte offset of each header field, for error messages that name where a fault lies.
OFFSETS: dict[str, int] = dict(zip(
    (sub.name for sub in HEADER.subcons),
    accumulate((sub.sizeof() for sub in HEADER.subcons), initial=0),
    strict=False,
))
_FIELDS = tuple(name for name in _CODEC.names if name not in ("magic", "reserved"))

RESERVED = b" " * 17


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """A decoded header. ``build()``/``parse()`` convert to and from the 256 bytes."""

    msg_type: str
    corp_no: str = ""
    user_no: str = ""
    tr_code: str = ""
    req_no: str = ""
    serial_no: str = ""
    tr_date: str = ""
    tr_time: str = ""
    ret_code: str = ""
    ret_msg: str = ""
    sign_flag: str = "0"
    encrypt_flag: str = "0"
    more_flag: str = "0"
    frag_no: int = 0
    key_id: str = ""
    sign_alg: str = SIGN_NONE
    body_len: int = 0
    sig_len: int = 0
    seq_no: int = 0
    version: int = VERSION_MAJOR
    minor: int = VERSION_MINOR

    @property
    def signed(self) -> bool:
        return self.sign_flag == "1"

    @property
    def encrypted(self) -> bool:
        return self.encrypt_flag == "1"

    def build(self) -> bytes:
        data = {name: getattr(self, name) for name in _FIELDS}
        data["magic"] = MAGIC
        data["reserved"] = RESERVED
        return _CODEC.encode(data)

    @classmethod
    def parse(cls, data: bytes) -> Header:
        """Parse exactly HEADER_SIZE bytes. Magic and major version are checked first."""
        if len(data) < HEADER_SIZE:
            raise DecodeError(f"truncated header: {len(data)} of {HEADER_SIZE} bytes")
        if data[:4] != b"DLNK":
            raise DecodeError(f"wrong magic {data[:4]!r}, expected b'DLNK'", field="magic",
                              offset=0)
        if data[4:6] != b"%02d" % VERSION_MAJOR:
            raise UnsupportedVersion(
                f"unsupported protocol version {data[4:6].decode('ascii', 'replace')}."
                f"{data[6:8].decode('ascii', 'replace')}; this peer speaks "
                f"{VERSION_MAJOR}.0 to {VERSION_MAJOR}.{VERSION_MINOR}"
            )
        try:
            parsed = _CODEC.decode(data[:HEADER_SIZE])
        except DecodeError as exc:
            if exc.field == "msg_type":
                exc.code = codes.UNKNOWN_MESSAGE_TYPE
            raise
        del parsed["magic"], parsed["reserved"]
        return cls(**parsed)
