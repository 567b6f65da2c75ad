"""The client daemon's ini file: loading, validation, editing, the security password.

Modelled on a bank direct-connect client's ``etc/*.ini``: one file with the
sections ``[security]``, ``[communication]``, ``[enterprise]``, ``[bind]``,
``[forward]`` and ``[cert]``. This module

- parses and validates it into a typed, immutable :class:`ClientConfig`
  (:func:`load_config`, :func:`parse_config`), reporting every problem with
  file, section and key (``etc/directlink.ini: [communication] port: ...``);
- edits it in place without losing the admin's comments (:class:`IniFile`),
  refusing any edit that would make the file invalid;
- hashes and checks the security password (:func:`hash_password`,
  :func:`verify_password`);
- renders a complete commented file for a new home directory
  (:func:`render_default_config`); etc/directlink.ini is its output.

Comments start a line with ``#`` or ``;``. There are no inline comments: a
``#`` after a value is part of the value, as in the bank's own client.
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import difflib
import hashlib
import hmac
import ipaddress
import math
import os
import re
import stat
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from config.errors import ConfigError
from config.files import write_atomically
from config.seed import corp_no_problem, user_no_problem
from protocol.keys import format_fingerprint, normalize_fingerprint

__all__ = [
    "KNOWN_KEYS",
    "SECRET_KEYS",
    "SECTION_DESCRIPTIONS",
    "BindConfig",
    "CertConfig",
    "ClientConfig",
    "CommunicationConfig",
    "ConfigError",
    "EnterpriseConfig",
    "ForwardConfig",
    "IniFile",
    "KeySpec",
    "Proxy",
    "SecurityConfig",
    "format_fingerprint",
    "hash_password",
    "load_config",
    "masked",
    "normalize_fingerprint",
    "parse_config",
    "render_default_config",
    "verify_password",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# --------------------------------------------------------------------------
# The typed configuration.


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
class ClientConfig:
    security: SecurityConfig
    communication: CommunicationConfig
    enterprise: EnterpriseConfig
    bind: BindConfig
    forward: ForwardConfig
    cert: CertConfig
    source: str = "<string>"  # the file it came from, for messages
    base_dir: Path = field(default_factory=Path.cwd)  # relative paths start here


# --------------------------------------------------------------------------
# The keys: what each means, its default, and how it is checked.


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One ini key: a one-line description, its default, further notes."""

    description: str
    default: str | None  # None: required, no default
    notes: tuple[str, ...] = ()  # extra comment lines in the rendered file


SECTION_DESCRIPTIONS: dict[str, str] = {
    "security": "the security password",
    "communication": "the connection to the bank",
    "enterprise": "who this client acts for, and the keys it uses",
    "bind": "which ERP systems may connect",
    "forward": "the ERP-facing listeners",
    "cert": "message security",
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
        "bank_key": KeySpec("the bank's public key file (its fingerprint and keys)",
                            "../keys/bank.pub"),
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
}

#: Values that ``config show`` must not print.
SECRET_KEYS: frozenset[tuple[str, str]] = frozenset({("security", "password_hash")})


def masked(section: str, key: str, value: str) -> str:
    """``value`` as it may be shown to a person: secrets are replaced."""
    if (section, key) in SECRET_KEYS:
        return "(set)" if value else "(not set)"
    return value


class _Invalid(Exception):
    """A value that does not fit its key; the message says why."""


_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_UINT = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MAX_SECONDS = 86400.0
_ENCODINGS = {"GBK": "GBK", "CP936": "GBK", "GB18030": "GB18030", "UTF8": "UTF-8"}


@dataclass(frozen=True, slots=True)
class _Context:
    base_dir: Path


def _port(low: int) -> Callable[[str, _Context], int]:
    hint = "1-65535" if low else "0-65535; 0 picks a free port"

    def parse(raw: str, _ctx: _Context) -> int:
        if not _UINT.fullmatch(raw) or not low <= int(raw) <= 65535:
            raise _Invalid(f"not a port number: {raw!r} (expected {hint})")
        return int(raw)

    return parse


def _seconds(raw: str, _ctx: _Context) -> float:
    if not _DECIMAL.fullmatch(raw):
        raise _Invalid(f"not a number of seconds: {raw!r} (expected a number such as 5 or 0.5)")
    value = float(raw)
    if not (value > 0 and math.isfinite(value)):
        raise _Invalid(f"must be more than 0 seconds, not {raw!r}")
    if value > _MAX_SECONDS:
        raise _Invalid(f"at most {_MAX_SECONDS:.0f} seconds (one day), not {raw!r}")
    return value


def _size(low: int, high: int) -> Callable[[str, _Context], int]:
    def parse(raw: str, _ctx: _Context) -> int:
        if not _UINT.fullmatch(raw) or not low <= int(raw) <= high:
            raise _Invalid(f"not a size in bytes: {raw!r} (expected {low}-{high})")
        return int(raw)

    return parse


def _host_problem(raw: str) -> str | None:
    if not raw:
        return "must not be empty"
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(raw)
        return None
    labels = raw.split(".")
    if len(raw) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return f"not a host name or IP address: {raw!r}"
    return None


def _host(raw: str, _ctx: _Context) -> str:
    problem = _host_problem(raw)
    if problem:
        raise _Invalid(problem)
    return raw


def _proxy(raw: str, _ctx: _Context) -> Proxy | None:
    if not raw:
        return None
    expected = f"not an HTTP proxy address: {raw!r} (expected http://host:port)"
    try:
        url = urllib.parse.urlsplit(raw)
        port = url.port
    except ValueError:
        raise _Invalid(expected) from None
    if url.scheme.lower() != "http" or not url.hostname or port is None or port == 0:
        raise _Invalid(expected)
    if url.username is not None or url.password is not None:
        # A password here would sit in plain text next to the hashed one.
        raise _Invalid("proxy credentials are not supported (expected http://host:port)")
    if url.path not in ("", "/") or url.query or url.fragment:
        raise _Invalid(expected)
    problem = _host_problem(url.hostname)
    if problem:
        raise _Invalid(f"proxy: {problem}")
    return Proxy(url.hostname, port)


def _identifier(rule: Callable[[str], str | None]) -> Callable[[str, _Context], str]:
    def parse(raw: str, _ctx: _Context) -> str:
        problem = rule(raw)
        if problem:
            raise _Invalid(problem)
        return raw

    return parse


def _resolve(raw: str, ctx: _Context) -> Path:
    if "\x00" in raw:
        raise _Invalid(f"not a file path: {raw!r}")
    return (ctx.base_dir / Path(raw).expanduser()).resolve()


def _path(raw: str, ctx: _Context) -> Path:
    if not raw:
        raise _Invalid("must not be empty (expected a file path)")
    return _resolve(raw, ctx)


def _optional_path(raw: str, ctx: _Context) -> Path | None:
    return _resolve(raw, ctx) if raw else None


def _fingerprint(raw: str, _ctx: _Context) -> str | None:
    if not raw:
        return None
    try:
        return normalize_fingerprint(raw)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def _allow(raw: str, _ctx: _Context) -> tuple[Network, ...]:
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue  # tolerate "a, b," and the like
        try:
            networks.append(ipaddress.ip_network(item))
        except ValueError:
            try:
                loose = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise _Invalid(f"not an IP address or network: {item!r}") from None
            raise _Invalid(f"{item!r} has host bits set (did you mean {loose}?)") from None
    if not networks:
        raise _Invalid("must list at least one address; otherwise no ERP system could connect")
    return tuple(networks)


def _encoding(raw: str, _ctx: _Context) -> str:
    name = _ENCODINGS.get(raw.upper().replace("-", "").replace("_", ""))
    if name is None:
        raise _Invalid(f"unsupported encoding {raw!r} (expected GBK, GB18030 or UTF-8)")
    return name


def _certflag(raw: str, _ctx: _Context) -> int:
    if raw not in ("0", "1"):
        raise _Invalid(f"must be 0 or 1, not {raw!r}")
    return int(raw)


def _password_hash(raw: str, _ctx: _Context) -> str | None:
    if not raw:
        return None
    try:
        _parse_hash(raw)
    except ValueError as exc:
        # The value itself stays out of the message: it is a secret.
        raise _Invalid(
            f"not a password hash made by directlink ({exc}); "
            "set the password with `directlink config` instead of editing it"
        ) from None
    return raw


_PARSERS: dict[tuple[str, str], Callable[[str, _Context], object]] = {
    ("security", "password_hash"): _password_hash,
    ("communication", "host"): _host,
    ("communication", "port"): _port(1),
    ("communication", "connect_timeout"): _seconds,
    ("communication", "request_timeout"): _seconds,
    ("communication", "heartbeat_interval"): _seconds,
    ("communication", "proxy"): _proxy,
    ("communication", "max_frame"): _size(1024, 256 * 1024 * 1024),
    ("enterprise", "corp_no"): _identifier(corp_no_problem),
    ("enterprise", "user_no"): _identifier(user_no_problem),
    ("enterprise", "private_key"): _path,
    ("enterprise", "certificate"): _path,
    ("enterprise", "bank_key"): _path,
    ("enterprise", "bank_fingerprint"): _fingerprint,
    ("bind", "allow"): _allow,
    ("bind", "listen"): _host,
    ("forward", "erp_port"): _port(0),
    ("forward", "http_port"): _port(0),
    ("forward", "encoding"): _encoding,
    ("forward", "max_request"): _size(1024, 256 * 1024 * 1024),
    ("forward", "client_timeout"): _seconds,
    ("forward", "log_file"): _optional_path,
    ("cert", "certflag"): _certflag,
}
assert set(_PARSERS) == {(s, k) for s, keys in KNOWN_KEYS.items() for k in keys}


# --------------------------------------------------------------------------
# Parsing.


def _key_path(section: str, key: str | None = None) -> str:
    return f"[{section}] {key}" if key else f"[{section}]"


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(known)})"


def _new_parser() -> configparser.ConfigParser:
    return configparser.ConfigParser(
        interpolation=None,
        # A real [DEFAULT] section would silently add its keys to every other
        # section; naming the default section something no file can contain
        # makes [DEFAULT] an ordinary (and therefore unknown) section.
        default_section="\x00no default section",
        empty_lines_in_values=False,
        strict=True,
    )


def _read_syntax(text: str, source: str) -> configparser.ConfigParser:
    """configparser's reading of ``text``, or a ConfigError for broken syntax."""
    parser = _new_parser()
    try:
        parser.read_string(text, source)
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(
            source,
            _key_path(exc.section),
            f"section appears twice (again on line {exc.lineno})",
            section=exc.section,
        ) from None
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(
            source,
            _key_path(exc.section, exc.option),
            f"key appears twice in the section (again on line {exc.lineno})",
            section=exc.section,
            key=exc.option,
        ) from None
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(
            source,
            f"line {exc.lineno}",
            f"{exc.line.strip()!r} comes before any [section] header",
        ) from None
    except configparser.ParsingError as exc:
        errors = [
            ConfigError(source, f"line {lineno}", f"not a 'key = value' line: {line.strip()!r}")
            for lineno, line in exc.errors
        ]
        raise ConfigError.collect(errors) from None
    return parser


def _check(text: str, source: str, base_dir: Path) -> tuple[ClientConfig | None, list[ConfigError]]:
    """Every problem with ``text``; the config only when there are none.

    Raises ConfigError only for broken syntax, where nothing else can be said.
    """
    parser = _read_syntax(text, source)
    errors: list[ConfigError] = []
    for section in parser.sections():
        if section not in KNOWN_KEYS:
            reason = f"unknown section{_suggest(section, list(KNOWN_KEYS))}"
            errors.append(ConfigError(source, _key_path(section), reason, section=section))
            continue
        for key in parser.options(section):
            if key not in KNOWN_KEYS[section]:
                reason = f"unknown key{_suggest(key, list(KNOWN_KEYS[section]))}"
                errors.append(
                    ConfigError(source, _key_path(section, key), reason, section=section, key=key)
                )

    ctx = _Context(base_dir)
    values: dict[tuple[str, str], object] = {}
    for section, keys in KNOWN_KEYS.items():
        for key, spec in keys.items():
            where = _key_path(section, key)
            if parser.has_option(section, key):
                raw = parser.get(section, key).strip()
            elif spec.default is None:
                errors.append(
                    ConfigError(source, where, "required but missing", section=section, key=key)
                )
                continue
            else:
                raw = spec.default
            try:
                if "\n" in raw:
                    raise _Invalid("must be on one line (an indented line continues the value)")
                values[section, key] = _PARSERS[section, key](raw, ctx)
            except _Invalid as exc:
                errors.append(ConfigError(source, where, str(exc), section=section, key=key))

    erp, http = values.get(("forward", "erp_port")), values.get(("forward", "http_port"))
    if erp and erp == http:
        errors.append(
            ConfigError(
                source,
                _key_path("forward", "http_port"),
                f"same port as erp_port ({erp}); the two listeners need different ports",
                section="forward",
                key="http_port",
            )
        )
    if errors:
        return None, errors

    def section_values(section: str) -> dict[str, object]:
        return {key: values[section, key] for key in KNOWN_KEYS[section]}

    config = ClientConfig(
        security=SecurityConfig(**section_values("security")),
        communication=CommunicationConfig(**section_values("communication")),
        enterprise=EnterpriseConfig(**section_values("enterprise")),
        bind=BindConfig(**section_values("bind")),
        forward=ForwardConfig(**section_values("forward")),
        cert=CertConfig(**section_values("cert")),
        source=source,
        base_dir=base_dir,
    )
    return config, []


def parse_config(
    text: str, source: str = "<string>", base_dir: str | os.PathLike[str] | None = None
) -> ClientConfig:
    """Parse and validate ini text; relative paths are resolved against ``base_dir``.

    Raises one :class:`ConfigError` listing every problem (``.errors``).
    """
    base = Path(base_dir).absolute() if base_dir is not None else Path.cwd()
    config, errors = _check(text, source, base)
    if errors:
        raise ConfigError.collect(errors)
    assert config is not None
    return config


def _read_text(path: str | os.PathLike[str]) -> tuple[str, bool]:
    """The file's text and whether it began with a UTF-8 byte order mark."""
    source = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, "", "is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    bom = data.startswith(b"\xef\xbb\xbf")  # Windows editors like to add one
    try:
        return data.decode("utf-8-sig"), bom
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "", f"not UTF-8 text (bad byte at offset {exc.start})") from None


def load_config(path: str | os.PathLike[str]) -> ClientConfig:
    """Read and validate an ini file; its relative paths are relative to its directory."""
    text, _ = _read_text(path)
    return parse_config(text, os.fspath(path), Path(path).absolute().parent)


# --------------------------------------------------------------------------
# Editing in place.

_SECTION_LINE = configparser.ConfigParser.SECTCRE
_OPTION_LINE = re.compile(r"(?P<key>.*?)\s*(?P<sep>[=:])(?P<space>\s*)(?P<value>.*)")
_COMMENT_PREFIXES = ("#", ";")


@dataclass(slots=True)
class _Layout:
    """Where sections and keys sit in the file's lines (mirrors configparser)."""

    sections: dict[str, tuple[int, int]]  # section -> (header line, last line with content)
    keys: dict[tuple[str, str], tuple[int, int]]  # (section, key) -> (first, last line)


def _layout(lines: list[str]) -> _Layout:
    sections: dict[str, tuple[int, int]] = {}
    keys: dict[tuple[str, str], tuple[int, int]] = {}
    section: str | None = None
    option: tuple[str, str] | None = None
    indent = 0
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(_COMMENT_PREFIXES):
            option = None  # a blank or comment line ends a multi-line value
            continue
        level = len(line) - len(line.lstrip())
        if option is not None and level > indent:
            keys[option] = (keys[option][0], number)
        else:
            indent = level
            header = _SECTION_LINE.match(stripped)
            if header:
                section = header.group("header")
                sections[section] = (number, number)
                option = None
                continue
            match = _OPTION_LINE.match(stripped)
            if section is None or match is None:
                continue  # syntax was checked before; nothing to track
            option = (section, match.group("key").rstrip().lower())
            keys[option] = (number, number)
        if section is not None:
            sections[section] = (sections[section][0], number)
    return _Layout(sections, keys)


class IniFile:
    """An ini file opened for editing, keeping its comments and order.

    ``set`` checks the edited file as a whole and refuses a value that makes
    it worse, so a file edited only through this class stays loadable;
    ``save`` replaces the file atomically with the same permissions.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        text, bom = _read_text(path)
        self._init(path, text, bom)

    @classmethod
    def from_text(cls, path: str | os.PathLike[str], text: str) -> IniFile:
        """A new file at ``path`` (written on :meth:`save`) holding ``text``."""
        ini = cls.__new__(cls)
        ini._init(path, text, bom=False)
        return ini

    def _init(self, path: str | os.PathLike[str], text: str, bom: bool) -> None:
        self.path = Path(path)
        self.source = os.fspath(path)
        self._bom = bom
        self._lines = text.splitlines(keepends=True)
        self._newline = "\r\n" if "\r\n" in text else "\n"
        _read_syntax(text, self.source)  # values may be wrong (set can fix them); syntax not

    @property
    def text(self) -> str:
        return "".join(self._lines)

    @property
    def base_dir(self) -> Path:
        return self.path.absolute().parent

    def config(self) -> ClientConfig:
        """The file as a validated :class:`ClientConfig` (ConfigError if it is not valid)."""
        return parse_config(self.text, self.source, self.base_dir)

    def _spec(self, section: str, key: str) -> KeySpec:
        if section not in KNOWN_KEYS:
            raise ConfigError(
                self.source,
                _key_path(section),
                f"unknown section{_suggest(section, list(KNOWN_KEYS))}",
                section=section,
            )
        spec = KNOWN_KEYS[section].get(key)
        if spec is None:
            raise ConfigError(
                self.source,
                _key_path(section, key),
                f"unknown key{_suggest(key, list(KNOWN_KEYS[section]))}",
                section=section,
                key=key,
            )
        return spec

    def is_set(self, section: str, key: str) -> bool:
        """Whether the file itself gives ``key`` a value (rather than the default)."""
        self._spec(section, key)
        return _read_syntax(self.text, self.source).has_option(section, key)

    def get(self, section: str, key: str) -> str:
        """The value of ``key`` as written in the file, else its default ("" if none)."""
        spec = self._spec(section, key)
        parser = _read_syntax(self.text, self.source)
        if parser.has_option(section, key):
            return parser.get(section, key).strip()
        return spec.default or ""

    def items(self) -> Iterator[tuple[str, str, str, bool]]:
        """Every known key: ``(section, key, value, set_in_file)``, in documented order.

        Values are raw; pass them through :func:`masked` before showing them.
        """
        parser = _read_syntax(self.text, self.source)
        for section, keys in KNOWN_KEYS.items():
            for key, spec in keys.items():
                if parser.has_option(section, key):
                    yield section, key, parser.get(section, key).strip(), True
                else:
                    yield section, key, spec.default or "", False

    def set(self, section: str, key: str, value: str) -> None:
        """Give ``key`` a new value, in place, keeping every comment.

        Raises ConfigError, changing nothing, when the value is not valid for
        the key or the edit would add any other problem to the file.
        """
        spec = self._spec(section, key)
        where = _key_path(section, key)
        value = value.strip()
        if any(ord(char) < 0x20 or char == "\x7f" for char in value):
            shown = "the value" if (section, key) in SECRET_KEYS else repr(value)
            raise ConfigError(
                self.source,
                where,
                f"{shown} contains a line break or control character",
                section=section,
                key=key,
            )
        lines = self._edited(section, key, value, spec)
        text = "".join(lines)
        _, before = _check(self.text, self.source, self.base_dir)
        _, after = _check(text, self.source, self.base_dir)
        known = {str(error) for error in before}
        new = [
            error
            for error in after
            if (error.section, error.key) == (section, key) or str(error) not in known
        ]
        if new:
            raise ConfigError.collect(new)
        # Belt and braces: the line editor must agree with configparser.
        if _read_syntax(text, self.source).get(section, key).strip() != value:
            raise AssertionError(f"editing {where} did not produce the value")
        self._lines = lines

    def _edited(self, section: str, key: str, value: str, spec: KeySpec) -> list[str]:
        lines = list(self._lines)
        layout = _layout(lines)
        nl = self._newline
        if (section, key) in layout.keys:
            first, last = layout.keys[section, key]
            line = lines[first]
            body = line.rstrip("\r\n")
            eol = line[len(body) :] or nl
            indent = body[: len(body) - len(body.lstrip())]
            match = _OPTION_LINE.match(body.lstrip())
            assert match is not None
            head = body.lstrip()[: match.start("space")]
            space = match.group("space") or " "
            lines[first : last + 1] = [f"{indent}{head}{space if value else ''}{value}{eol}"]
            return lines
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += nl
        new = [f"# {_sentence(spec.description)}{nl}", f"{key} = {value}".rstrip() + nl]
        if section in layout.sections:
            _, last = layout.sections[section]
            lines[last + 1 : last + 1] = new
        else:
            if lines and lines[-1].strip():
                lines.append(nl)
            lines += [f"[{section}]{nl}", *new]
        return lines

    def save(self) -> None:
        """Write the file atomically (temp file + rename), keeping its permissions.

        A new file gets mode 0600: it holds the security password's hash.
        """
        try:
            mode = stat.S_IMODE(os.stat(self.path).st_mode)
        except FileNotFoundError:
            mode = 0o600
        data = self.text.encode("utf-8")
        if self._bom:
            data = b"\xef\xbb\xbf" + data
        write_atomically(self.path, data, mode=mode)


# --------------------------------------------------------------------------
# The security password.

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
# Bounds on parameters read from a file, so a tampered config cannot make
# every password check allocate gigabytes.
_SCRYPT_MAX_MEMORY = 256 * 1024 * 1024


def password_bytes(password: str) -> bytes:
    """The password as bytes, for the hash and for encrypting the private key alike."""
    # The same characters typed through different input methods can arrive
    # composed or decomposed; NFC makes them the same password.
    return unicodedata.normalize("NFC", password).encode("utf-8")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(
        password_bytes(password),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=size,
        maxmem=2 * _SCRYPT_MAX_MEMORY,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError(f"{what} is not base64") from None


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("expected scrypt$N$r$p$salt$hash")
    if not all(_UINT.fullmatch(part) for part in parts[1:4]):
        raise ValueError("N, r and p must be whole numbers")
    n, r, p = (int(part) for part in parts[1:4])
    if n < 2**10 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError("scrypt parameters out of range")
    if 128 * r * (n + p) > _SCRYPT_MAX_MEMORY:
        raise ValueError("scrypt parameters need too much memory")
    salt, digest = _unb64(parts[4], "salt"), _unb64(parts[5], "hash")
    if not 8 <= len(salt) <= 64 or not 16 <= len(digest) <= 64:
        raise ValueError("salt or hash has the wrong length")
    return n, r, p, salt, digest


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``: ``scrypt$N$r$p$salt_b64$hash_b64``."""
    if not isinstance(password, str) or not password:
        raise ValueError("the security password must not be empty")
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _HASH_BYTES)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (from :func:`hash_password`).

    The comparison takes the same time however much matches. A ``stored``
    value that is not such a hash raises ValueError (it is a broken config,
    not a wrong password).
    """
    n, r, p, salt, digest = _parse_hash(stored)
    if not isinstance(password, str) or not password:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(digest)), digest)


# --------------------------------------------------------------------------
# A complete commented file.

_HEADER = """\
# directlink client configuration.
#
# The client daemon takes requests from ERP systems on this host, signs and
# encrypts them, and forwards them to the bank. Lines starting with # or ;
# are comments; a # after a value is part of the value. Relative paths are
# relative to this file's directory. `directlink config set SECTION KEY VALUE`
# edits a value (checking it and keeping these comments);
# `directlink config validate` checks the whole file.
"""


def _sentence(description: str) -> str:
    return f"{description[0].upper()}{description[1:]}."


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        raise TypeError("booleans are not config values; use 0 or 1")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple | list):
        return ", ".join(str(item) for item in value)
    return str(value)


def render_default_config(
    *,
    corp_no: str,
    user_no: str,
    host: str = "127.0.0.1",
    port: int = 9003,
    erp_port: int = 30010,
    http_port: int = 8899,
    certflag: int = 1,
    password_hash: str = "",
    connect_timeout: float = 5,
    request_timeout: float = 30,
    heartbeat_interval: float = 30,
    proxy: str = "",
    max_frame: int = 1048576,
    private_key: str | os.PathLike[str] = "../keys/client.key",
    certificate: str | os.PathLike[str] = "../keys/client.pub",
    bank_key: str | os.PathLike[str] = "../keys/bank.pub",
    bank_fingerprint: str = "",
    allow: str | tuple[object, ...] | list[object] = "127.0.0.1",
    listen: str = "127.0.0.1",
    encoding: str = "GBK",
    max_request: int = 1048576,
    client_timeout: float = 30,
    log_file: str | os.PathLike[str] = "../log/directlink.log",
) -> str:
    """A complete, commented ini file with these values (the rest at their defaults).

    The result is checked before it is returned: bad values raise
    ConfigError (source ``<rendered>``) rather than produce a broken file.
    """
    given = dict(locals())  # exactly the parameters: one per key, named after it
    out = [_HEADER]
    for section, keys in KNOWN_KEYS.items():
        out.append(f"\n[{section}]\n")
        for key, spec in keys.items():
            out.append(f"# {_sentence(spec.description)}\n")
            out.extend(f"# {note}\n" for note in spec.notes)
            if spec.default is None:
                out.append("# Required.\n")
            else:
                out.append(f"# Default: {spec.default or '(empty)'}\n")
            value = _format_value(given[key])
            out.append(f"{key} = {value}".rstrip() + "\n")
            if key != list(keys)[-1]:
                out.append("\n")
    text = "".join(out)
    parse_config(text, "<rendered>")
    return text
