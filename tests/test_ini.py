"""The client's ini file: parsing, validation messages, in-place editing, passwords."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import stat
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.errors import ConfigError
from config.ini import (
    KNOWN_KEYS,
    SECRET_KEYS,
    ClientConfig,
    IniFile,
    Proxy,
    format_fingerprint,
    hash_password,
    load_config,
    masked,
    normalize_fingerprint,
    parse_config,
    render_default_config,
    verify_password,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "etc" / "directlink.ini"
MINIMAL = "[enterprise]\ncorp_no = 0000000001\nuser_no = 001\n"
FINGERPRINT = "3f2a9c01" * 8


def with_value(section: str, key: str, value: str) -> str:
    """MINIMAL plus one key (replacing corp_no/user_no when those are the key)."""
    lines = [line for line in MINIMAL.splitlines() if not line.startswith(f"{key} =")]
    text = "\n".join(lines) + "\n"
    if section == "enterprise":
        return text + f"{key} = {value}\n"
    return text + f"[{section}]\n{key} = {value}\n"


def failure(text: str, source: str = "etc/directlink.ini") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source, Path("/srv/dl/etc"))
    return info.value


# -- the sample and the defaults --------------------------------------------------


def test_sample_is_the_rendered_default() -> None:
    """etc/directlink.ini is render_default_config's output; regenerate it if this fails."""
    assert SAMPLE.read_text(encoding="utf-8") == render_default_config(
        corp_no="0000000001", user_no="001"
    )


def test_sample_documents_every_key() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    for section, keys in KNOWN_KEYS.items():
        assert f"\n[{section}]\n" in text
        for key, spec in keys.items():
            assert re.search(rf"^{key} =", text, re.M), key
            assert spec.description[1:] in text


def test_sample_loads_with_paths_relative_to_its_directory() -> None:
    config = load_config(SAMPLE)
    etc = SAMPLE.parent
    assert config.source == str(SAMPLE)
    assert config.base_dir == etc
    assert config.enterprise.private_key == etc.parent / "keys" / "client.key"
    assert config.enterprise.certificate == etc.parent / "keys" / "client.pub"
    assert config.enterprise.bank_key == etc.parent / "keys" / "bank.pub"
    assert config.forward.log_file == etc.parent / "log" / "directlink.log"


def test_defaults() -> None:
    config = parse_config(MINIMAL, "x.ini", "/srv/dl/etc")
    assert config.security.password_hash is None
    assert not config.security.has_password
    c = config.communication
    assert (c.host, c.port, c.proxy, c.max_frame) == ("127.0.0.1", 9003, None, 1048576)
    assert (c.connect_timeout, c.request_timeout, c.heartbeat_interval) == (5.0, 30.0, 30.0)
    assert isinstance(c.connect_timeout, float)
    e = config.enterprise
    assert (e.corp_no, e.user_no, e.bank_fingerprint) == ("0000000001", "001", None)
    assert e.private_key == Path("/srv/dl/keys/client.key")
    assert config.bind.allow == (ipaddress.ip_network("127.0.0.1/32"),)
    assert config.bind.listen == "127.0.0.1"
    f = config.forward
    assert (f.erp_port, f.http_port, f.encoding, f.max_request) == (30010, 8899, "GBK", 1048576)
    assert f.client_timeout == 30.0
    assert f.log_file == Path("/srv/dl/log/directlink.log")
    assert config.cert.certflag == 1
    assert config.cert.secure


def test_every_default_is_valid_on_its_own() -> None:
    for section, keys in KNOWN_KEYS.items():
        for key, spec in keys.items():
            if spec.default is not None and section != "enterprise":
                parse_config(with_value(section, key, spec.default))


def test_config_is_immutable() -> None:
    config = parse_config(MINIMAL)
    with pytest.raises(AttributeError):
        config.communication.port = 1  # type: ignore[misc]


# -- values ------------------------------------------------------------------------


def test_typed_values() -> None:
    text = MINIMAL.replace("0000000001", "12345") + (
        "bank_fingerprint = " + format_fingerprint(FINGERPRINT.upper()) + "\n"
        "private_key = /etc/dl/key.pem\n"
        "certificate = ~/client.pub\n"
        "[communication]\nhost = bank.example.com\nport = 19003\nproxy = http://10.0.0.5:3128\n"
        "connect_timeout = 0.5\n"
        "[bind]\nallow = 127.0.0.1, 10.1.0.0/16 ,::1,\nlisten = 0.0.0.0\n"
        "[forward]\nerp_port = 0\nhttp_port = 0\nencoding = utf8\nlog_file =\n"
        "[cert]\ncertflag = 0\n"
    )
    config = parse_config(text, "x.ini", "/srv/dl")
    assert config.enterprise.corp_no == "12345"
    assert config.enterprise.bank_fingerprint == FINGERPRINT
    assert config.enterprise.private_key == Path("/etc/dl/key.pem")
    assert config.enterprise.certificate == Path("~/client.pub").expanduser()
    assert config.communication.host == "bank.example.com"
    assert config.communication.port == 19003
    assert config.communication.proxy == Proxy("10.0.0.5", 3128)
    assert config.communication.proxy.url == "http://10.0.0.5:3128"
    assert config.communication.connect_timeout == 0.5
    assert config.bind.allow == tuple(
        ipaddress.ip_network(n) for n in ("127.0.0.1", "10.1.0.0/16", "::1")
    )
    assert config.bind.listen == "0.0.0.0"
    assert (config.forward.erp_port, config.forward.http_port) == (0, 0)  # both free ports
    assert config.forward.encoding == "UTF-8"
    assert config.forward.log_file is None
    assert config.cert.certflag == 0
    assert not config.cert.secure


@pytest.mark.parametrize(
    ("raw", "name"),
    [("gbk", "GBK"), ("GBK", "GBK"), ("gb18030", "GB18030"), ("utf-8", "UTF-8"), ("UTF8", "UTF-8")],
)
def test_encodings_are_normalised(raw: str, name: str) -> None:
    assert parse_config(with_value("forward", "encoding", raw)).forward.encoding == name


def test_bind_allows() -> None:
    bind = parse_config(with_value("bind", "allow", "127.0.0.1, 10.1.0.0/16, fd00::/8")).bind
    assert bind.allows("127.0.0.1")
    assert bind.allows("10.1.200.3")
    assert bind.allows("::ffff:10.1.2.3")  # IPv4 peer on a dual-stack socket
    assert bind.allows("fd00::1")
    assert not bind.allows("10.2.0.1")
    assert not bind.allows("::1")
    assert not bind.allows("not an address")


def test_fingerprint_helpers() -> None:
    grouped = format_fingerprint(FINGERPRINT)
    assert grouped.startswith("3f2a 9c01 3f2a")
    assert normalize_fingerprint(grouped) == FINGERPRINT
    assert normalize_fingerprint(":".join(FINGERPRINT[i : i + 2] for i in range(0, 64, 2))) == (
        FINGERPRINT
    )
    with pytest.raises(ValueError, match="63 hex digits"):
        normalize_fingerprint(FINGERPRINT[:-1])


# -- every rule names file, section and key ------------------------------------------

BAD_VALUES: list[tuple[str, str, str, str]] = [
    ("communication", "port", "abc", "not a port number: 'abc' (expected 1-65535)"),
    ("communication", "port", "0", "not a port number: '0' (expected 1-65535)"),
    ("communication", "port", "65536", "not a port number: '65536' (expected 1-65535)"),
    ("communication", "port", "-1", "not a port number"),
    ("forward", "erp_port", "65536", "(expected 0-65535; 0 picks a free port)"),
    ("forward", "http_port", "80a", "not a port number"),
    ("communication", "host", "", "must not be empty"),
    ("communication", "host", "bank_host!", "not a host name or IP address"),
    ("communication", "connect_timeout", "0", "more than 0 seconds"),
    ("communication", "request_timeout", "-5", "not a number of seconds"),
    ("communication", "heartbeat_interval", "nan", "not a number of seconds"),
    ("communication", "request_timeout", "1e3", "not a number of seconds"),
    ("forward", "client_timeout", "100000", "at most 86400 seconds"),
    ("communication", "max_frame", "10", "not a size in bytes"),
    ("forward", "max_request", "big", "not a size in bytes"),
    ("communication", "proxy", "socks5://p:1080", "expected http://host:port"),
    ("communication", "proxy", "http://proxy", "expected http://host:port"),
    ("communication", "proxy", "http://proxy:99999", "expected http://host:port"),
    ("communication", "proxy", "http://proxy:8080/path", "expected http://host:port"),
    ("communication", "proxy", "http://u:pw@proxy:8080", "credentials are not supported"),
    ("enterprise", "corp_no", "12a", "must be digits only"),
    ("enterprise", "corp_no", "1" * 21, "1-20 digits"),
    ("enterprise", "corp_no", "", "must not be empty"),
    ("enterprise", "user_no", "0-1", "letters and digits only"),
    ("enterprise", "user_no", "u" * 21, "at most 20"),
    ("enterprise", "private_key", "", "must not be empty"),
    ("enterprise", "bank_fingerprint", "3f2a 9c01", "8 hex digits, expected 64"),
    ("enterprise", "bank_fingerprint", "zz" * 32, "expected hex digits"),
    ("bind", "allow", "", "at least one address"),
    ("bind", "allow", "127.0.0.1, localhost", "not an IP address or network: 'localhost'"),
    ("bind", "allow", "10.0.0.1/8", "did you mean 10.0.0.0/8?"),
    ("bind", "listen", "", "must not be empty"),
    ("forward", "encoding", "latin-1", "expected GBK, GB18030 or UTF-8"),
    ("cert", "certflag", "2", "must be 0 or 1"),
    ("cert", "certflag", "yes", "must be 0 or 1"),
    ("security", "password_hash", "hunter2", "not a password hash made by directlink"),
]


@pytest.mark.parametrize(("section", "key", "value", "reason"), BAD_VALUES)
def test_bad_value_names_file_section_and_key(
    section: str, key: str, value: str, reason: str
) -> None:
    error = failure(with_value(section, key, value))
    assert len(error.errors) == 1
    assert (error.section, error.key) == (section, key)
    assert error.path == f"[{section}] {key}"
    assert str(error).startswith(f"etc/directlink.ini: [{section}] {key}: ")
    assert reason in str(error)


def test_the_documented_port_message() -> None:
    error = failure(with_value("communication", "port", "abc"))
    assert str(error) == (
        "etc/directlink.ini: [communication] port: not a port number: 'abc' (expected 1-65535)"
    )


def test_a_bad_password_hash_is_not_echoed() -> None:
    error = failure(with_value("security", "password_hash", "scrypt$1$2$3$secretish$x"))
    assert "secretish" not in str(error)


def test_missing_required_keys() -> None:
    error = failure("[enterprise]\n")
    assert [e.path for e in error.errors] == ["[enterprise] corp_no", "[enterprise] user_no"]
    assert "required but missing" in error.reason


def test_unknown_section_and_key() -> None:
    error = failure(MINIMAL + "prot = 1\n[comunication]\nport = 1\n[DEFAULT]\nhost = x\n")
    messages = str(error).splitlines()
    assert messages[:2] == [
        "etc/directlink.ini: [enterprise] prot: unknown key (expected one of: corp_no, user_no, "
        "private_key, certificate, bank_key, bank_fingerprint)",
        "etc/directlink.ini: [comunication]: unknown section (did you mean 'communication'?)",
    ]
    # [DEFAULT] is no special section here: its keys would leak into every other one.
    assert messages[2].startswith("etc/directlink.ini: [DEFAULT]: unknown section")
    assert len(messages) == 3


def test_keys_are_case_insensitive_sections_are_not() -> None:
    assert parse_config(MINIMAL + "[forward]\nERP_PORT = 1\n").forward.erp_port == 1
    assert failure(MINIMAL + "[Forward]\nerp_port = 1\n").path == "[Forward]"


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        (MINIMAL + "corp_no = 2\n", "[enterprise] corp_no", "appears twice"),
        (MINIMAL + "[enterprise]\n", "[enterprise]", "section appears twice"),
        ("corp_no = 1\n" + MINIMAL, "line 1", "comes before any [section] header"),
        (MINIMAL + "just words\n", "line 4", "not a 'key = value' line"),
        (MINIMAL + "[cert]\ncertflag = 1\n  0\n", "[cert] certflag", "must be on one line"),
    ],
)
def test_syntax_errors(text: str, path: str, reason: str) -> None:
    error = failure(text)
    assert error.path == path
    assert reason in error.reason


def test_no_inline_comments() -> None:
    error = failure(with_value("communication", "port", "9003  # the bank"))
    assert error.path == "[communication] port"


def test_same_port_for_both_listeners() -> None:
    error = failure(MINIMAL + "[forward]\nerp_port = 7000\nhttp_port = 7000\n")
    assert error.path == "[forward] http_port"
    assert "same port as erp_port" in error.reason


def test_all_errors_at_once() -> None:
    error = failure("[enterprise]\ncorp_no = x\nuser_no = 1\n[communication]\nport = abc\n")
    assert [e.path for e in error.errors] == ["[communication] port", "[enterprise] corp_no"]
    assert len(str(error).splitlines()) == 2


def test_load_config_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "none.ini"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: file not found"


def test_load_config_directory_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    path = tmp_path / "gbk.ini"
    path.write_bytes((MINIMAL + "; 注释\n").encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "directlink.ini"
    path.write_text(with_value("communication", "port", "abc"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: [communication] port: ")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("[]=:#; \n\tabcp0123.,%$")), max_size=80))
def test_random_text_only_raises_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_config(text)


# -- editing ----------------------------------------------------------------------


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    path = tmp_path / "directlink.ini"
    path.write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    path.chmod(0o640)
    return path


def test_load_and_save_without_changes_is_byte_identical(ini: Path) -> None:
    before = ini.read_bytes()
    IniFile(ini).save()
    assert ini.read_bytes() == before


def test_set_changes_one_line_and_keeps_comments(ini: Path) -> None:
    before = ini.read_text(encoding="utf-8").splitlines()
    edit = IniFile(ini)
    edit.set("communication", "port", "19003")
    edit.save()
    after = ini.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [("port = 9003", "port = 19003")]
    assert load_config(ini).communication.port == 19003
    assert IniFile(ini).get("communication", "port") == "19003"


def test_set_refuses_a_bad_port_and_changes_nothing(ini: Path) -> None:
    before = ini.read_bytes()
    edit = IniFile(ini)
    text = edit.text
    with pytest.raises(ConfigError) as info:
        edit.set("communication", "port", "abc")
    assert str(info.value) == (
        f"{ini}: [communication] port: not a port number: 'abc' (expected 1-65535)"
    )
    assert (info.value.section, info.value.key) == ("communication", "port")
    assert edit.text == text
    edit.save()
    assert ini.read_bytes() == before


def test_set_refuses_unknown_keys_and_line_breaks(ini: Path) -> None:
    edit = IniFile(ini)
    with pytest.raises(ConfigError, match=r"\[communication\] prot: unknown key"):
        edit.set("communication", "prot", "1")
    with pytest.raises(ConfigError, match=r"\[comms\]: unknown section"):
        edit.set("comms", "port", "1")
    with pytest.raises(ConfigError, match="line break"):
        edit.set("communication", "host", "a\n[cert]")


def test_set_refuses_a_conflict_it_would_create(ini: Path) -> None:
    edit = IniFile(ini)
    with pytest.raises(ConfigError) as info:
        edit.set("forward", "http_port", "30010")
    assert info.value.path == "[forward] http_port"


def test_set_adds_missing_keys_and_sections(tmp_path: Path) -> None:
    path = tmp_path / "small.ini"
    path.write_text("; mine\n[enterprise]\ncorp_no=1\n# keep me\nuser_no : 7\n", encoding="utf-8")
    edit = IniFile(path)
    assert not edit.is_set("enterprise", "bank_fingerprint")
    assert edit.get("communication", "port") == "9003"  # the default
    edit.set("enterprise", "bank_fingerprint", format_fingerprint(FINGERPRINT))
    edit.set("enterprise", "user_no", "abc")
    edit.set("communication", "port", "9")
    edit.save()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("; mine\n[enterprise]\ncorp_no=1\n# keep me\nuser_no : abc\n# ")
    assert "\n[communication]\n# TCP port of the bank's direct-connect service.\nport = 9\n" in text
    config = load_config(path)
    assert config.enterprise.bank_fingerprint == FINGERPRINT
    assert config.enterprise.user_no == "abc"
    assert config.communication.port == 9
    assert IniFile(path).is_set("enterprise", "bank_fingerprint")


def test_set_can_fix_one_error_while_another_remains(tmp_path: Path) -> None:
    path = tmp_path / "broken.ini"
    path.write_text(MINIMAL + "[communication]\nport = x\nhost = ?\n", encoding="utf-8")
    edit = IniFile(path)  # values may be wrong; it opens so they can be fixed
    edit.set("communication", "port", "9003")
    with pytest.raises(ConfigError, match=r"\[communication\] host"):
        edit.config()
    edit.set("communication", "host", "bank.example.com")
    assert edit.config().communication.host == "bank.example.com"


def test_set_replaces_a_multi_line_value(tmp_path: Path) -> None:
    path = tmp_path / "multi.ini"
    path.write_text(MINIMAL + "[bind]\nallow = 127.0.0.1,\n  10.0.0.0/8\n# end\n", "utf-8")
    edit = IniFile(path)
    edit.set("bind", "allow", "10.0.0.0/8")
    assert edit.text.endswith("[bind]\nallow = 10.0.0.0/8\n# end\n")


def test_ini_file_refuses_broken_syntax_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.ini"
    path.write_text("key = before any section\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="before any"):
        IniFile(path)
    with pytest.raises(ConfigError, match="file not found"):
        IniFile(tmp_path / "none.ini")


def test_save_keeps_permissions_and_leaves_no_temp_files(ini: Path) -> None:
    edit = IniFile(ini)
    edit.set("cert", "certflag", "0")
    edit.save()
    assert stat.S_IMODE(ini.stat().st_mode) == 0o640
    assert sorted(p.name for p in ini.parent.iterdir()) == ["directlink.ini"]


def test_new_file_from_text_is_private(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "directlink.ini"
    path.parent.mkdir()
    IniFile.from_text(path, render_default_config(corp_no="9", user_no="op1")).save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(path).enterprise.user_no == "op1"


def test_crlf_and_bom_survive_an_edit(tmp_path: Path) -> None:
    path = tmp_path / "win.ini"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.replace("\n", "\r\n").encode())
    edit = IniFile(path)
    edit.set("enterprise", "user_no", "002")
    edit.set("cert", "certflag", "0")
    edit.save()
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf[enterprise]\r\n")
    assert b"user_no = 002\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert load_config(path).cert.certflag == 0


def test_items_and_masking(ini: Path) -> None:
    edit = IniFile(ini)
    stored = hash_password("correct horse")
    edit.set("security", "password_hash", stored)
    rows = {(s, k): (v, in_file) for s, k, v, in_file in edit.items()}
    assert set(rows) == {(s, k) for s, keys in KNOWN_KEYS.items() for k in keys}
    assert rows["security", "password_hash"] == (stored, True)
    assert ("security", "password_hash") in SECRET_KEYS
    assert masked("security", "password_hash", stored) == "(set)"
    assert masked("security", "password_hash", "") == "(not set)"
    assert masked("communication", "port", "9003") == "9003"
    config = edit.config()
    assert config.security.has_password
    assert stored not in repr(config)


# -- the security password -------------------------------------------------------------


def test_hash_and_verify() -> None:
    stored = hash_password("s3cret-密码")
    assert re.fullmatch(r"scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+", stored)
    assert "s3cret" not in stored
    assert verify_password("s3cret-密码", stored)
    assert not verify_password("s3cret-密码 ", stored)
    assert not verify_password("", stored)
    assert hash_password("s3cret-密码") != stored  # salted
    parse_config(with_value("security", "password_hash", stored))


def test_verify_normalises_unicode() -> None:
    assert verify_password("e\u0301", hash_password("\u00e9"))


def test_empty_password_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        hash_password("")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "bcrypt$x",
        "scrypt$16384$8$1$c2FsdA==",
        "scrypt$16384$8$1$!!!$aGFzaA==",
        "scrypt$1000$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==",
        "scrypt$1073741824$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==",
    ],
)
def test_malformed_stored_hash_is_an_error_not_a_mismatch(stored: str) -> None:
    started = time.monotonic()
    with pytest.raises(ValueError):
        verify_password("whatever", stored)
    assert time.monotonic() - started < 1  # huge parameters are refused, not computed


# -- rendering ------------------------------------------------------------------------


def test_render_parses_back_to_the_same_values(tmp_path: Path) -> None:
    stored = hash_password("pw")
    text = render_default_config(
        corp_no="0000000002",
        user_no="OP7",
        host="10.9.8.7",
        port=19003,
        erp_port=0,
        http_port=0,
        certflag=0,
        password_hash=stored,
        connect_timeout=2.5,
        request_timeout=60,
        proxy="http://proxy.local:3128",
        bank_fingerprint=format_fingerprint(FINGERPRINT),
        allow=("127.0.0.1", "10.0.0.0/8"),
        encoding="gb18030",
        log_file=tmp_path / "dl.log",
    )
    path = tmp_path / "directlink.ini"
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    assert isinstance(config, ClientConfig)
    assert config.enterprise.corp_no == "0000000002"
    assert config.enterprise.user_no == "OP7"
    assert config.enterprise.bank_fingerprint == FINGERPRINT
    assert config.communication.host == "10.9.8.7"
    assert config.communication.port == 19003
    assert config.communication.connect_timeout == 2.5
    assert config.communication.request_timeout == 60.0
    assert config.communication.proxy == Proxy("proxy.local", 3128)
    assert (config.forward.erp_port, config.forward.http_port) == (0, 0)
    assert config.forward.encoding == "GB18030"
    assert config.forward.log_file == tmp_path / "dl.log"
    assert config.cert.certflag == 0
    assert config.security.password_hash == stored
    assert config.bind.allow == (
        ipaddress.ip_network("127.0.0.1"),
        ipaddress.ip_network("10.0.0.0/8"),
    )
    assert config.enterprise.private_key == tmp_path.parent / "keys" / "client.key"
    # Same comments as the sample: only the value lines differ.
    sample = SAMPLE.read_text(encoding="utf-8").splitlines()
    rendered = text.splitlines()
    assert [line for line in rendered if not re.match(r"^\w+ =", line)] == [
        line for line in sample if not re.match(r"^\w+ =", line)
    ]


def test_render_refuses_bad_values() -> None:
    with pytest.raises(ConfigError) as info:
        render_default_config(corp_no="x", user_no="001")
    assert str(info.value).startswith("<rendered>: [enterprise] corp_no: ")
    with pytest.raises(ConfigError, match=r"\[forward\] erp_port"):
        render_default_config(corp_no="1", user_no="001", erp_port=70000)
    with pytest.raises(TypeError):
        render_default_config(corp_no="1", user_no="001", nonsense=1)  # type: ignore[call-arg]
