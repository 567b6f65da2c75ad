"""The ini keys: each key's description, default and notes, and which are secret.

This table is the one declaration of the file's keys: parsing, the editor and
the rendered default file all follow it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One ini key: a one-line description, its default, further notes."""

    description: str
    default: str | None  # None: required, no default
    notes: tuple[str, ...] = ()  # extra comment lines in the rendered file

    @property
    def sentence(self) -> str:
        """The description as a sentence, for the comment above the key."""
        return f"{self.description[0].upper()}{self.description[1:]}."


SECTION_DESCRIPTIONS: dict[str, str] = {
    "security": "the security password",
    "communication": "the connection to the bank",
    "enterprise": "who this client acts for, and the keys it uses",
    "bind": "which ERP systems may connect",
    "forward": "the ERP-facing listeners",
    "cert": "message security",
    "files": "the exchange folder for batch files",
}

KNOWN_KEYS: dict[str, dict[str, KeySpec]] = {
    "security": {
        "password_hash": KeySpec(
            "salted scrypt hash of the security password (empty: none set yet)",
            "",
            (
                "The security password protects configuration changes and encrypts the",
                "client's private key. Change it with `directlink config`, never by hand",
                "(format scrypt$N$r$p$salt$hash).",
            ),
        ),
    },
    "communication": {
        "host": KeySpec("host name or IP address of the bank", "127.0.0.1"),
        "port": KeySpec("TCP port of the bank's direct-connect service", "9003"),
        "connect_timeout": KeySpec("seconds to wait for a connection to the bank", "5"),
        "request_timeout": KeySpec(
            "seconds to wait for the bank's reply to a request",
            "30",
            (
                "A transfer left unanswered is reported as processing, never as",
                "failed; its outcome is found later with a 310204 query.",
            ),
        ),
        "heartbeat_interval": KeySpec(
            "seconds between keep-alive messages on an idle bank connection", "30"
        ),
        "proxy": KeySpec(
            "HTTP CONNECT proxy to the bank, http://host:port (empty: connect directly)", ""
        ),
        "max_frame": KeySpec("largest message accepted from the bank, in bytes", "1048576"),
    },
    "enterprise": {
        "corp_no": KeySpec("enterprise code (e-banking customer number), 1-20 digits", None),
        "user_no": KeySpec("direct-connect operator number, 1-20 letters or digits", None),
        "private_key": KeySpec(
            "the client's Ed25519 private key (PEM, encrypted with the security password)",
            "../keys/client.key",
        ),
        "certificate": KeySpec(
            "the client's public key (PEM), as enrolled with the bank", "../keys/client.pub"
        ),
        "bank_key": KeySpec(
            "the bank's public key file (its fingerprint and keys)", "../keys/bank.pub"
        ),
        "bank_fingerprint": KeySpec(
            "pinned fingerprint of the bank's key, 64 hex digits (empty: not pinned yet)",
            "",
            (
                "Spaces and colons are ignored (3f2a 9c01 ...). Once pinned, a bank",
                "key with another fingerprint is refused.",
            ),
        ),
    },
    "bind": {
        "allow": KeySpec(
            "source IPs or CIDR networks that may send ERP requests, comma-separated",
            "127.0.0.1",
        ),
        "listen": KeySpec(
            "address the ERP listeners bind to",
            "127.0.0.1",
            ("Use 0.0.0.0 to accept ERP systems on other hosts (and list them in allow).",),
        ),
    },
    "forward": {
        "erp_port": KeySpec("raw TCP port for ERP requests (0: pick a free port)", "30010"),
        "http_port": KeySpec("HTTP POST port for ERP requests (0: pick a free port)", "8899"),
        "encoding": KeySpec("encoding of ERP requests and replies: GBK, GB18030 or UTF-8", "GBK"),
        "max_request": KeySpec("largest ERP request accepted, in bytes", "1048576"),
        "client_timeout": KeySpec(
            "seconds an ERP client may stall before it is disconnected", "30"
        ),
        "log_file": KeySpec(
            "log file (empty: standard error only)",
            "../log/directlink.log",
            ("Secrets (passwords, keys) are never logged.",),
        ),
    },
    "cert": {
        "certflag": KeySpec(
            "1: sign and encrypt every message with the keys above; 0: plain",
            "1",
            ("0 is for testing against a bank that accepts plain messages.",),
        ),
    },
    "files": {
        "dir": KeySpec(
            "exchange folder: ERP systems put batch files here, the daemon their result files",
            "../files",
            (
                "The daemon creates it (mode 0700) when it starts. It holds payroll and",
                "collection data: keep it readable only by the daemon and the ERP.",
            ),
        ),
    },
}

#: Values that ``config show`` must not print.
SECRET_KEYS: frozenset[tuple[str, str]] = frozenset({("security", "password_hash")})


def masked(section: str, key: str, value: str) -> str:
    """``value`` as it may be shown to a person: secrets are replaced."""
    if (section, key) in SECRET_KEYS:
        return "(set)" if value else "(not set)"
    return value
