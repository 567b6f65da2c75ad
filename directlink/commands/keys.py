"""``directlink keys …``: the client's key pair and the pinned bank key.

The private key is encrypted with the security password (PKCS#8) and
written readable by its owner only; the public key is what the bank enrolls
(``directlink core enroll``). ``show`` prints fingerprints in groups of
four, as an admin reads them aloud to the bank or checks a key letter.
"""

from __future__ import annotations

from pathlib import Path

import click

from daemon.home import write_secret
from directlink.commands.common import config_option, home_option
from directlink.commands.config import (
    current_password,
    ini_config,
    key_password,
    open_ini,
    password_file_option,
    write_public,
)
from protocol.keys import (
    BankPublicKeys,
    KeyFileError,
    SigningKey,
    VerifyKey,
    format_fingerprint,
    normalize_fingerprint,
)


@click.group("keys")
def keys() -> None:
    """The client's key pair: generate, show fingerprints, export the public key."""


@keys.command()
@home_option
@config_option
@password_file_option
@click.option("--force", is_flag=True, help="Replace an existing key pair.")
def generate(home: Path, config_path: Path | None, password_file: Path | None,
             force: bool) -> None:
    """Generate the client's key pair, encrypted with the security password."""
    ini = open_ini(home, config_path)
    cfg = ini_config(ini)
    private_key, public_key = cfg.enterprise.private_key, cfg.enterprise.certificate
    existing = [path for path in (private_key, public_key) if path.exists()]
    if existing and not force:
        raise click.ClickException(
            f"{existing[0]} already exists; use --force to replace the key pair "
            "(the bank must then enroll the new public key)")
    password = current_password(ini, home, password_file)
    if password is None:
        raise click.ClickException(
            f"{ini.source}: [security] password_hash: no security password is set, and the "
            "private key is encrypted with it; set one with `directlink config passwd`")
    key = SigningKey.generate()
    write_secret(private_key, key.to_pem(key_password(password)))
    write_public(public_key, key.public.to_pem())
    click.echo(f"{'replaced' if existing else 'generated'} {private_key} and {public_key}")
    click.echo(f"client key id:          {key.key_id}")
    click.echo(f"client key fingerprint: {format_fingerprint(key.public.fingerprint)}")
    click.echo(f"next: the bank enrolls it: directlink core enroll --home BANKHOME "
               f"--corp-no {cfg.enterprise.corp_no} --user-no {cfg.enterprise.user_no} "
               f"{public_key}")


@keys.command()
@home_option
@config_option
def show(home: Path, config_path: Path | None) -> None:
    """Show the client key's id and fingerprint, and the pinned bank key."""
    cfg = ini_config(open_ini(home, config_path))
    public_key = cfg.enterprise.certificate
    try:
        key = VerifyKey.from_pem(public_key.read_bytes())
    except FileNotFoundError:
        click.echo(f"client key:             none at {public_key} "
                   "(run `directlink keys generate`)")
    except KeyFileError as exc:
        click.echo(f"client key:             {public_key}: {exc}")
    else:
        click.echo(f"client key:             {public_key}")
        click.echo(f"client key id:          {key.key_id}")
        click.echo(f"client key fingerprint: {format_fingerprint(key.fingerprint)}")

    pinned = cfg.enterprise.bank_fingerprint
    click.echo(f"bank fingerprint:       "
               f"{format_fingerprint(pinned) if pinned else '(not pinned)'}")
    bank_key = cfg.enterprise.bank_key
    click.echo(f"bank key:               {bank_key}: {_bank_key_status(bank_key, pinned)}")


def _bank_key_status(path: Path, pinned: str | None) -> str:
    try:
        bank = BankPublicKeys.from_text(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        return "missing (run `directlink enroll --bank-key FILE`)"
    except (KeyFileError, UnicodeDecodeError) as exc:
        return f"unreadable: {exc}"
    if not pinned:
        return (f"fingerprint {format_fingerprint(bank.fingerprint)}, not pinned "
                "(run `directlink enroll --bank-key FILE`)")
    if normalize_fingerprint(pinned) == bank.fingerprint:
        return "matches the pinned fingerprint"
    return (f"DOES NOT MATCH the pinned fingerprint (the file's is "
            f"{format_fingerprint(bank.fingerprint)}); the daemon will refuse it")


@keys.command()
@home_option
@config_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the PEM to this file [default: standard output].")
def export(home: Path, config_path: Path | None, output: Path | None) -> None:
    """Print (or write) the client's public key, PEM, for the bank to enroll."""
    cfg = ini_config(open_ini(home, config_path))
    public_key = cfg.enterprise.certificate
    try:
        key = VerifyKey.from_pem(public_key.read_bytes())
    except FileNotFoundError:
        raise click.ClickException(
            f"{public_key}: no public key; run `directlink keys generate`") from None
    except KeyFileError as exc:
        raise click.ClickException(f"{public_key}: {exc}") from None
    pem = key.to_pem()
    if output is None:
        click.echo(pem.decode("ascii"), nl=False)
        return
    try:
        write_public(output, pem)
    except OSError as exc:
        raise click.ClickException(f"{output}: cannot write: {exc.strerror or exc}") from None
    click.echo(f"wrote {output} (fingerprint {format_fingerprint(key.fingerprint)})", err=True)
