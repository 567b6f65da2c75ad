"""``directlink enroll``: the client's side of enrollment — pin the bank's key.

The bank hands out its public key file (``directlink core export-key``) and,
separately, a key letter with the key's fingerprint. The admin checks one
against the other: with ``--fingerprint`` as typed from the letter, or by
confirming the fingerprint shown. The key file is then copied to the
config's ``bank_key`` path and its fingerprint pinned in ``[enterprise]
bank_fingerprint``; from then on the daemon refuses any other bank key.
"""

from __future__ import annotations

from pathlib import Path

import click

from config.errors import ConfigError
from directlink.commands.common import config_option, confirm, home_option
from directlink.commands.config import (
    current_password,
    ini_config,
    open_ini,
    password_file_option,
    write_public,
)
from protocol.keys import (
    BankPublicKeys,
    KeyFileError,
    VerifyKey,
    format_fingerprint,
    normalize_fingerprint,
)


def _load_bank_key(path: Path) -> BankPublicKeys:
    try:
        return BankPublicKeys.from_text(path.read_text(encoding="ascii"))
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{path}: not a bank key file (not ASCII text)") from None
    except KeyFileError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


@click.command("enroll")
@home_option
@config_option
@password_file_option
@click.option("--bank-key", "bank_key_file", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The bank's public key file (from `directlink core export-key`).")
@click.option("--fingerprint", default=None,
              help="The fingerprint from the bank's key letter (spaces and colons ignored).")
@click.option("--yes", is_flag=True, help="Do not ask to confirm the fingerprint.")
def enroll(home: Path, config_path: Path | None, password_file: Path | None,
           bank_key_file: Path, fingerprint: str | None, yes: bool) -> None:
    """Pin the bank's public key (checked by fingerprint) in the client's config."""
    bank = _load_bank_key(bank_key_file)
    click.echo(f"bank key fingerprint: {format_fingerprint(bank.fingerprint)}")
    if fingerprint is not None:
        try:
            expected = normalize_fingerprint(fingerprint)
        except KeyFileError as exc:
            raise click.BadParameter(str(exc), param_hint="'--fingerprint'") from None
        if expected != bank.fingerprint:
            raise click.ClickException(
                f"{bank_key_file}: the key's fingerprint does not match --fingerprint "
                f"({format_fingerprint(expected)}); do not use this key, ask the bank")
        click.echo("matches the fingerprint given")
    elif not yes:
        confirm("Does it match the fingerprint in the bank's key letter?",
                needed="the bank key's fingerprint must be checked",
                how="give --fingerprint (from the bank's key letter) or --yes")

    ini = open_ini(home, config_path)
    cfg = ini_config(ini)
    current_password(ini, home, password_file)
    previous = cfg.enterprise.bank_fingerprint
    try:
        ini.set("enterprise", "bank_fingerprint", format_fingerprint(bank.fingerprint))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    target = cfg.enterprise.bank_key
    try:
        if bank_key_file.resolve() != target.resolve():
            write_public(target, bank.to_text().encode("ascii"))
        ini.save()
    except OSError as exc:
        raise click.ClickException(f"cannot write {exc.filename}: {exc.strerror}") from None
    if previous and previous != bank.fingerprint:
        click.echo(f"replaced the previously pinned fingerprint {format_fingerprint(previous)}")
    click.echo(f"pinned the bank key in {ini.source}; copied it to {target}")

    ent = cfg.enterprise
    click.echo("the bank must enroll this client's key (if it has not yet):")
    click.echo(f"  directlink core enroll --home BANKHOME --corp-no {ent.corp_no} "
               f"--user-no {ent.user_no} {ent.certificate}")
    try:
        client_key = VerifyKey.from_pem(ent.certificate.read_bytes())
    except (OSError, KeyFileError):
        click.echo(f"  (no client key at {ent.certificate} yet: run `directlink keys generate`)")
    else:
        click.echo(f"  client key fingerprint, for the bank to check: "
                   f"{format_fingerprint(client_key.fingerprint)}")
