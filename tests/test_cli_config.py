"""``directlink config …``: init, show, get, set, validate, passwd (CliRunner, tmp homes)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from config.ini import IniFile, load_config, verify_password
from directlink.commands import common
from directlink.commands.config import config
from protocol.keys import KeyFileError, SigningKey, format_fingerprint

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A password or home in the developer's environment must not leak in.
    monkeypatch.delenv("DIRECTLINK_PASSWORD", raising=False)
    monkeypatch.delenv("DIRECTLINK_HOME", raising=False)
    # CliRunner's input= is the admin typing at a terminal (without one, a prompt is
    # refused: tests/test_firsthour_password.py).
    monkeypatch.setattr(common, "can_prompt", lambda: True)


def password_file(tmp_path: Path, password: str = PASSWORD, name: str = "pw") -> Path:
    path = tmp_path / name
    path.write_text(password + "\n", encoding="utf-8")
    return path


def init_home(tmp_path: Path, *extra: str) -> Path:
    """A home made by `config init` with PASSWORD."""
    home = tmp_path / "home"
    result = CliRunner().invoke(config, [
        "init", "--home", str(home), "--corp-no", "0000000001", "--user-no", "001",
        "--password-file", str(password_file(tmp_path)), *extra])
    assert result.exit_code == 0, result.output
    return home


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(config, list(args), input=input)


def test_init_creates_ini_and_encrypted_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run("init", "--home", str(home), "--corp-no", "0000000001", "--user-no", "001",
                 "--core-port", "9100", "--erp-port", "0", "--http-port", "0",
                 "--password-file", str(password_file(tmp_path)))
    assert result.exit_code == 0, result.output
    ini = home / "etc" / "directlink.ini"
    cfg = load_config(ini)
    assert cfg.enterprise.corp_no == "0000000001"
    assert cfg.communication.port == 9100
    assert cfg.forward.erp_port == 0
    assert cfg.enterprise.private_key == (home / "keys" / "client.key").resolve()
    assert cfg.enterprise.bank_key == (home / "keys" / "bank.pub").resolve()
    assert cfg.forward.log_file == (home / "log" / "directlink.log").resolve()
    assert "private_key = ../keys/client.key" in ini.read_text()
    assert cfg.security.password_hash is not None
    assert verify_password(PASSWORD, cfg.security.password_hash)
    assert stat.S_IMODE(ini.stat().st_mode) == 0o600

    key_file = home / "keys" / "client.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    pem = key_file.read_bytes()
    assert b"ENCRYPTED" in pem
    with pytest.raises(KeyFileError):
        SigningKey.from_pem(pem, None)
    key = SigningKey.from_pem(pem, PASSWORD.encode())
    assert format_fingerprint(key.public.fingerprint) in result.output
    assert "directlink core enroll" in result.output
    assert "directlink enroll" in result.output and "--bank-key" in result.output
    assert PASSWORD not in result.output


def test_init_prompts_twice_and_refuses_an_existing_ini(tmp_path: Path) -> None:
    home = tmp_path / "home"
    args = ["init", "--home", str(home), "--corp-no", "0000000001", "--user-no", "001"]
    result = run(*args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    before = (home / "etc" / "directlink.ini").read_bytes()

    again = run(*args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code == 1
    assert "directlink.ini already exists" in again.output
    assert (home / "etc" / "directlink.ini").read_bytes() == before


def test_init_refuses_bad_values_naming_the_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run("init", "--home", str(home), "--corp-no", "not-digits", "--user-no", "001",
                 "--password-file", str(password_file(tmp_path)))
    assert result.exit_code == 1
    assert "[enterprise] corp_no" in result.output
    assert str(home / "etc" / "directlink.ini") in result.output
    assert not (home / "etc").exists()
    assert not (home / "keys").exists()


def test_show_masks_the_hash_and_describes_keys(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    stored = IniFile(home / "etc" / "directlink.ini").get("security", "password_hash")
    result = run("show", "--home", str(home))
    assert result.exit_code == 0, result.output
    assert stored not in result.output
    assert "scrypt$" not in result.output
    assert "password_hash = (set)" in result.output
    assert "[communication]" in result.output
    assert "# TCP port of the bank's direct-connect service" in result.output
    assert "corp_no = 0000000001" in result.output

    one = run("show", "--home", str(home), "forward")
    assert "[forward]" in one.output and "[security]" not in one.output


def test_get_and_set(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    pw = str(password_file(tmp_path))
    assert run("get", "--home", str(home), "communication.port").output == "9003\n"
    assert run("get", "--home", str(home), "security.password_hash").output == "(set)\n"

    result = run("set", "--home", str(home), "--password-file", pw, "communication.port", "9200")
    assert result.exit_code == 0, result.output
    assert run("get", "--home", str(home), "communication.port").output == "9200\n"
    # The other spelling, from the ini file's own header comment.
    result = run("set", "--home", str(home), "--password-file", pw, "forward", "erp_port", "0")
    assert result.exit_code == 0, result.output
    assert load_config(home / "etc" / "directlink.ini").forward.erp_port == 0
    # Comments survive the edit.
    assert "# TCP port of the bank's direct-connect service." in (
        home / "etc" / "directlink.ini").read_text()


def test_set_refuses_a_bad_value_naming_file_section_key(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    ini = home / "etc" / "directlink.ini"
    before = ini.read_bytes()
    result = run("set", "--home", str(home), "--password-file", str(password_file(tmp_path)),
                 "communication.port", "99999")
    assert result.exit_code == 1
    assert str(ini) in result.output
    assert "[communication] port" in result.output
    assert "not a port number" in result.output
    assert "Traceback" not in result.output
    assert ini.read_bytes() == before

    unknown = run("set", "--home", str(home), "--password-file", str(password_file(tmp_path)),
                  "communication.prot", "1")
    assert unknown.exit_code == 1 and "did you mean 'port'" in unknown.output
    assert ini.read_bytes() == before


def test_set_refuses_a_wrong_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = init_home(tmp_path)
    ini = home / "etc" / "directlink.ini"
    before = ini.read_bytes()
    wrong = password_file(tmp_path, "not the password", "wrong")
    result = run("set", "--home", str(home), "--password-file", str(wrong),
                 "communication.port", "9200")
    assert result.exit_code == 1
    assert "wrong security password" in result.output
    assert ini.read_bytes() == before

    typed = run("set", "--home", str(home), "communication.port", "9200", input="nope\n")
    assert typed.exit_code == 1 and "wrong security password" in typed.output
    assert "nope" not in typed.output

    monkeypatch.setenv("DIRECTLINK_PASSWORD", PASSWORD)
    from_env = run("set", "--home", str(home), "communication.port", "9200")
    assert from_env.exit_code == 0, from_env.output
    assert PASSWORD not in from_env.output


def test_set_refuses_the_password_hash(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    result = run("set", "--home", str(home), "--password-file", str(password_file(tmp_path)),
                 "security.password_hash", "")
    assert result.exit_code == 1
    assert "config passwd" in result.output


def test_validate(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    ini = home / "etc" / "directlink.ini"
    ok = run("validate", "--home", str(home))
    assert ok.exit_code == 0, ok.output
    assert f"OK: {ini}" in ok.output
    assert "warning:" in ok.output and "directlink enroll --bank-key" in ok.output  # no bank key

    ini.write_text(ini.read_text().replace("port = 9003", "port = abc")
                   .replace("listen = 127.0.0.1", "listen = bad host"))
    bad = run("validate", "--home", str(home))
    assert bad.exit_code == 1
    assert f"{ini}: [communication] port: not a port number" in bad.output
    assert "[bind] listen" in bad.output
    assert "2 problems" in bad.output

    missing = run("validate", "--config", str(tmp_path / "nope.ini"))
    assert missing.exit_code == 1
    assert missing.output == (f"Error: {tmp_path / 'nope.ini'}: no client config; create one "
                              "with `directlink config init` (or run `directlink up`)\n")


def test_missing_config_is_a_one_line_error(tmp_path: Path) -> None:
    result = run("show", "--home", str(tmp_path / "empty"))
    assert result.exit_code == 1
    assert "config init" in result.output
    assert "Traceback" not in result.output


def test_passwd_reencrypts_the_key(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    key_file = home / "keys" / "client.key"
    public_before = SigningKey.from_pem(key_file.read_bytes(), PASSWORD.encode()).public
    new = "a much newer password"
    result = run("passwd", "--home", str(home), "--password-file", str(password_file(tmp_path)),
                 input=f"{new}\n{new}\n")
    assert result.exit_code == 0, result.output
    assert new not in result.output and PASSWORD not in result.output

    pem = key_file.read_bytes()
    with pytest.raises(KeyFileError):
        SigningKey.from_pem(pem, PASSWORD.encode())
    assert SigningKey.from_pem(pem, new.encode()).public == public_before
    stored = load_config(home / "etc" / "directlink.ini").security.password_hash
    assert stored is not None
    assert verify_password(new, stored) and not verify_password(PASSWORD, stored)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    # The old password no longer unlocks config changes.
    old = run("set", "--home", str(home), "--password-file", str(password_file(tmp_path)),
              "communication.port", "9200")
    assert old.exit_code == 1 and "wrong security password" in old.output


def test_passwd_prompts_for_the_old_password_and_updates_the_demo_file(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    demo = home / "etc" / "password"
    demo.write_text(PASSWORD + "\n")
    new_file = password_file(tmp_path, "next one", "new")
    result = run("passwd", "--home", str(home), "--new-password-file", str(new_file))
    assert result.exit_code == 0, result.output  # old password from the demo file
    assert demo.read_text() == "next one\n"
    SigningKey.from_pem((home / "keys" / "client.key").read_bytes(), b"next one")

    demo.unlink()
    wrong = run("passwd", "--home", str(home), "--new-password-file", str(new_file),
                input="guess\n")
    assert wrong.exit_code == 1 and "wrong security password" in wrong.output


def test_passwd_refuses_mismatched_confirmation(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    before = (home / "etc" / "directlink.ini").read_bytes()
    result = run("passwd", "--home", str(home), "--password-file", str(password_file(tmp_path)),
                 input="one\ntwo\n")
    assert result.exit_code != 0
    assert (home / "etc" / "directlink.ini").read_bytes() == before
