"""The value parsers: each key's raw text turned into a typed value, or refused.

:data:`PARSERS` has one parser per key in :data:`~config.ini.keys.KNOWN_KEYS`;
a parser raises :class:`InvalidValue` with a message that says what is wrong.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from config.ini.keys import KNOWN_KEYS
from config.ini.model import Network, Proxy
from config.ini.passwords import parse_hash
from config.seed import corp_no_problem, user_no_problem
from protocol.keys import normalize_fingerprint


class InvalidValue(Exception):
    """A value that does not fit its key; the message says why."""


_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_UINT = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MAX_SECONDS = 86400.0
_ENCODINGS = {"GBK": "GBK", "CP936": "GBK", "GB18030": "GB18030", "UTF8": "UTF-8"}


@dataclass(frozen=True, slots=True)
class Context:
    """What a parser may need besides the raw text."""

    base_dir: Path  # relative paths start here


def _port(low: int) -> Callable[[str, Context], int]:
    hint = "1-65535" if low else "0-65535; 0 picks a free port"

    def parse(raw: str, _ctx: Context) -> int:
        if not _UINT.fullmatch(raw) or not low <= int(raw) <= 65535:
            raise InvalidValue(f"not a port number: {raw!r} (expected {hint})")
        return int(raw)

    return parse


def _seconds(raw: str, _ctx: Context) -> float:
    if not _DECIMAL.fullmatch(raw):
        raise InvalidValue(f"not a number of seconds: {raw!r} (expected a number such as 5 or 0.5)")
    value = float(raw)
    if not (value > 0 and math.isfinite(value)):
        raise InvalidValue(f"must be more than 0 seconds, not {raw!r}")
    if value > _MAX_SECONDS:
        raise InvalidValue(f"at most {_MAX_SECONDS:.0f} seconds (one day), not {raw!r}")
    return value


def _size(low: int, high: int) -> Callable[[str, Context], int]:
    def parse(raw: str, _ctx: Context) -> int:
        if not _UINT.fullmatch(raw) or not low <= int(raw) <= high:
            raise InvalidValue(f"not a size in bytes: {raw!r} (expected {low}-{high})")
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


def _host(raw: str, _ctx: Context) -> str:
    problem = _host_problem(raw)
    if problem:
        raise InvalidValue(problem)
    return raw


def _proxy(raw: str, _ctx: Context) -> Proxy | None:
    if not raw:
        return None
    expected = f"not an HTTP proxy address: {raw!r} (expected http://host:port)"
    try:
        url = urllib.parse.urlsplit(raw)
        port = url.port
    except ValueError:
        raise InvalidValue(expected) from None
    if url.scheme.lower() != "http" or not url.hostname or port is None or port == 0:
        raise InvalidValue(expected)
    if url.username is not None or url.password is not None:
        # A password here would sit in plain text next to the hashed one.
        raise InvalidValue("proxy credentials are not supported (expected http://host:port)")
    if url.path not in ("", "/") or url.query or url.fragment:
        raise InvalidValue(expected)
    problem = _host_problem(url.hostname)
    if problem:
        raise InvalidValue(f"proxy: {problem}")
    return Proxy(url.hostname, port)


def _identifier(rule: Callable[[str], str | None]) -> Callable[[str, Context], str]:
    def parse(raw: str, _ctx: Context) -> str:
        problem = rule(raw)
        if problem:
            raise InvalidValue(problem)
        return raw

    return parse


def _resolve(raw: str, ctx: Context) -> Path:
    if "\x00" in raw:
        raise InvalidValue(f"not a file path: {raw!r}")
    return (ctx.base_dir / Path(raw).expanduser()).resolve()


def _path(raw: str, ctx: Context) -> Path:
    if not raw:
        raise InvalidValue("must not be empty (expected a file path)")
    return _resolve(raw, ctx)


def _folder(raw: str, ctx: Context) -> Path:
    if not raw:
        raise InvalidValue("must not be empty (expected a folder path)")
    path = _resolve(raw, ctx)
    with contextlib.suppress(OSError):  # unreadable parents: the daemon will say so
        if path.exists() and not path.is_dir():
            raise InvalidValue(f"{path} is a file, not a folder")
    return path


def _optional_path(raw: str, ctx: Context) -> Path | None:
    return _resolve(raw, ctx) if raw else None


def _fingerprint(raw: str, _ctx: Context) -> str | None:
    if not raw:
        return None
    try:
        return normalize_fingerprint(raw)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None


def _allow(raw: str, _ctx: Context) -> tuple[Network, ...]:
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
                raise InvalidValue(f"not an IP address or network: {item!r}") from None
            raise InvalidValue(f"{item!r} has host bits set (did you mean {loose}?)") from None
    if not networks:
        raise InvalidValue("must list at least one address; otherwise no ERP system could connect")
    return tuple(networks)


def _encoding(raw: str, _ctx: Context) -> str:
    name = _ENCODINGS.get(raw.upper().replace("-", "").replace("_", ""))
    if name is None:
        raise InvalidValue(f"unsupported encoding {raw!r} (expected GBK, GB18030 or UTF-8)")
    return name


def _certflag(raw: str, _ctx: Context) -> int:
    if raw not in ("0", "1"):
        raise InvalidValue(f"must be 0 or 1, not {raw!r}")
    return int(raw)


def _password_hash(raw: str, _ctx: Context) -> str | None:
    if not raw:
        return None
    try:
        parse_hash(raw)
    except ValueError as exc:
        # The value itself stays out of the message: it is a secret.
        raise InvalidValue(
            f"not a password hash made by directlink ({exc}); "
            "set the password with `directlink config` instead of editing it"
        ) from None
    return raw


PARSERS: dict[tuple[str, str], Callable[[str, Context], object]] = {
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
    ("files", "dir"): _folder,
}
assert set(PARSERS) == {(s, k) for s, keys in KNOWN_KEYS.items() for k in keys}
