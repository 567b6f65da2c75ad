"""``directlink keys …`` and ``directlink enroll`` (CliRunner, tmp homes)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.ini import load_config
from daemon.home import load_bank_keys, load_signing_key
from directlink.commands import common
from directlink.commands.enroll import enroll
from directlink.commands.keys import keys
from protocol.keys import BankKeyPair, SigningKey, VerifyKey, format_fingerprint
from tests.test_cli_config import PASSWORD, init_home, password_file


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIRECTLINK_PASSWORD", raising=False)
    monkeypatch.delenv("DIRECTLINK_HOME", raising=False)
    # CliRunner's input= is the admin typing at a terminal (without one, a prompt is
    # refused: tests/test_firsthour_password.py).
    monkeypatch.setattr(common, "can_prompt", lambda: True)


def client_public(home: Path) -> VerifyKey:
    return VerifyKey.from_pem((home / "keys" / "client.pub").read_bytes())


def bank_key_file(tmp_path: Path) -> tuple[Path, str]:
    """A bank key file as `core export-key` writes it, and its fingerprint."""
    public = BankKeyPair.generate().public
    path = tmp_path / "bank-letter.pub"
    path.write_text(public.to_text(), encoding="ascii")
    return path, public.fingerprint


# -- keys ----------------------------------------------------------------------


def test_show_prints_key_id_and_fingerprint_in_groups(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    key = client_public(home)
    result = CliRunner().invoke(keys, ["show", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert key.key_id in result.output
    assert format_fingerprint(key.fingerprint) in result.output
    assert len(format_fingerprint(key.fingerprint).split()) == 16
    assert "(not pinned)" in result.output
    assert "missing" in result.output  # no keys/bank.pub yet


def test_export_to_stdout_and_file(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    pem = (home / "keys" / "client.pub").read_bytes()
    result = CliRunner().invoke(keys, ["export", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert result.stdout.encode() == pem
    assert "PRIVATE" not in result.output

    out = tmp_path / "out" / "client.pub"
    to_file = CliRunner().invoke(keys, ["export", "--home", str(home), "-o", str(out)])
    assert to_file.exit_code == 0, to_file.output
    assert out.read_bytes() == pem


def test_generate_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    before = (home / "keys" / "client.key").read_bytes()
    pw = str(password_file(tmp_path))
    refused = CliRunner().invoke(keys, ["generate", "--home", str(home), "--password-file", pw])
    assert refused.exit_code == 1
    assert "--force" in refused.output
    assert (home / "keys" / "client.key").read_bytes() == before

    old = client_public(home)
    forced = CliRunner().invoke(keys, ["generate", "--home", str(home), "--password-file", pw,
                                       "--force"])
    assert forced.exit_code == 0, forced.output
    new = client_public(home)
    assert new != old
    assert format_fingerprint(new.fingerprint) in forced.output
    key_file = home / "keys" / "client.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert SigningKey.from_pem(key_file.read_bytes(), PASSWORD.encode()).public == new


def test_generate_needs_the_right_password(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    (home / "keys" / "client.key").unlink()
    (home / "keys" / "client.pub").unlink()
    wrong = password_file(tmp_path, "wrong", "wrong")
    result = CliRunner().invoke(keys, ["generate", "--home", str(home),
                                       "--password-file", str(wrong)])
    assert result.exit_code == 1 and "wrong security password" in result.output
    assert not (home / "keys" / "client.key").exists()

    typed = CliRunner().invoke(keys, ["generate", "--home", str(home)], input=PASSWORD + "\n")
    assert typed.exit_code == 0, typed.output
    cfg = load_config(home / "etc" / "directlink.ini")
    assert load_signing_key(cfg, PASSWORD).public == client_public(home)


# -- enroll --------------------------------------------------------------------


def test_enroll_with_matching_fingerprint_pins_the_bank_key(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    letter, fingerprint = bank_key_file(tmp_path)
    result = CliRunner().invoke(enroll, [
        "--home", str(home), "--password-file", str(password_file(tmp_path)),
        "--bank-key", str(letter),
        # As typed from the key letter: groups, upper case, colons.
        "--fingerprint", format_fingerprint(fingerprint).upper().replace(" ", ":")])
    assert result.exit_code == 0, result.output
    assert format_fingerprint(fingerprint) in result.output
    assert "directlink core enroll" in result.output
    assert "--corp-no 0000000001 --user-no 001" in result.output
    assert format_fingerprint(client_public(home).fingerprint) in result.output

    cfg = load_config(home / "etc" / "directlink.ini")
    assert cfg.enterprise.bank_fingerprint == fingerprint
    assert load_bank_keys(cfg).fingerprint == fingerprint  # what the daemon checks

    shown = CliRunner().invoke(keys, ["show", "--home", str(home)])
    assert "matches the pinned fingerprint" in shown.output


def test_enroll_with_mismatching_fingerprint_changes_nothing(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    ini = home / "etc" / "directlink.ini"
    before = ini.read_bytes()
    letter, _ = bank_key_file(tmp_path)
    other = BankKeyPair.generate().public.fingerprint
    result = CliRunner().invoke(enroll, [
        "--home", str(home), "--password-file", str(password_file(tmp_path)),
        "--bank-key", str(letter), "--fingerprint", other])
    assert result.exit_code == 1
    assert "does not match" in result.output
    assert ini.read_bytes() == before
    assert not (home / "keys" / "bank.pub").exists()

    malformed = CliRunner().invoke(enroll, [
        "--home", str(home), "--bank-key", str(letter), "--fingerprint", "12ab"])
    assert malformed.exit_code == 2 and "64 hex digits" in malformed.output


def test_enroll_asks_to_confirm_without_fingerprint(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    ini = home / "etc" / "directlink.ini"
    before = ini.read_bytes()
    letter, fingerprint = bank_key_file(tmp_path)
    args = ["--home", str(home), "--password-file", str(password_file(tmp_path)),
            "--bank-key", str(letter)]
    declined = CliRunner().invoke(enroll, args, input="n\n")
    assert declined.exit_code == 1
    assert ini.read_bytes() == before

    accepted = CliRunner().invoke(enroll, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert load_config(ini).enterprise.bank_fingerprint == fingerprint


def test_enroll_needs_the_password_and_a_valid_key_file(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    letter, _ = bank_key_file(tmp_path)
    wrong = CliRunner().invoke(enroll, [
        "--home", str(home), "--password-file", str(password_file(tmp_path, "x", "x")),
        "--bank-key", str(letter), "--yes"])
    assert wrong.exit_code == 1 and "wrong security password" in wrong.output
    assert load_config(home / "etc" / "directlink.ini").enterprise.bank_fingerprint is None

    garbage = tmp_path / "garbage.pub"
    garbage.write_text("not a key\n")
    bad = CliRunner().invoke(enroll, ["--home", str(home), "--bank-key", str(garbage), "--yes"])
    assert bad.exit_code == 1
    assert str(garbage) in bad.output and "Traceback" not in bad.output
