"""The typed client configuration: one frozen dataclass per ini section.

:func:`config.ini.parsing.parse_config` builds a :class:`ClientConfig` from a
file; nothing else here reads or writes ini text.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP CONNECT proxy on the way to the bank."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    # Kept out of repr: a hash is not the password, but it should not end up
    # in logs or tracebacks either (offline guessing needs only the hash).
    password_hash: str | None = field(repr=False)  # None: no password set yet

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None


@dataclass(frozen=True, slots=True)
class CommunicationConfig:
    host: str
    port: int
    connect_timeout: float  # seconds
    request_timeout: float  # seconds
    heartbeat_interval: float  # seconds
    proxy: Proxy | None
    max_frame: int  # bytes


@dataclass(frozen=True, slots=True)
class EnterpriseConfig:
    corp_no: str
    user_no: str
    private_key: Path
    certificate: Path
    bank_key: Path
    bank_fingerprint: str | None  # 64 lower-case hex digits; None: not pinned yet


@dataclass(frozen=True, slots=True)
class BindConfig:
    allow: tuple[Network, ...]
    listen: str

    def allows(self, address: str) -> bool:
        """Whether an ERP client connecting from ``address`` may be served."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d.
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self.allow)


@dataclass(frozen=True, slots=True)
class ForwardConfig:
    erp_port: int  # 0: pick a free port
    http_port: int  # 0: pick a free port
    encoding: str  # "GBK", "GB18030" or "UTF-8"
    max_request: int  # bytes
    client_timeout: float  # seconds
    log_file: Path | None  # None: standard error only


@dataclass(frozen=True, slots=True)
class CertConfig:
    certflag: int  # 1: sign and encrypt; 0: plain

    @property
    def secure(self) -> bool:
        return self.certflag == 1


@dataclass(frozen=True, slots=True)
class FilesConfig:
    dir: Path  # the exchange folder for batch files and their results


@dataclass(frozen=True, slots=True)
class ClientConfig:
    security: SecurityConfig
    communication: CommunicationConfig
    enterprise: EnterpriseConfig
    bind: BindConfig
    forward: ForwardConfig
    cert: CertConfig
    files: FilesConfig
    source: str = "<string>"  # the file it came from, for messages
    base_dir: Path = field(default_factory=Path.cwd)  # relative paths start here
