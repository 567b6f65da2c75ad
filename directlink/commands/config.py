"""``directlink config …``: create, show, edit and check the client's ini file.

Every change that the security password protects (``set``, ``passwd``) asks
for it first. The password comes from ``--password-file``, then
``$DIRECTLINK_PASSWORD``, then the home's demo file ``etc/password`` (kept by
``directlink up``), else a hidden prompt; it is never printed or logged, and
``show``/``get`` mask the stored hash.

The helpers for the password and for opening the ini file are shared with
``directlink keys`` and ``directlink enroll``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from config.errors import ConfigError
from config.files import make_private_dir
from config.ini import (
    KNOWN_KEYS,
    SECRET_KEYS,
    ClientConfig,
    IniFile,
    hash_password,
    load_config,
    masked,
    password_bytes,
    render_default_config,
    verify_password,
)
from daemon.home import (
    PASSWORD_ENV,
    ClientHome,
    SetupError,
    load_bank_keys,
    read_password,
    write_secret,
)
from directlink.commands.common import (
    config_error,
    config_option,
    config_path_for,
    home_option,
    prompt_secret,
)
from protocol.keys import KeyFileError, SigningKey, format_fingerprint

# --------------------------------------------------------------------------
# Shared with keys.py and enroll.py.


def password_file_option(func):
    """``--password-file FILE``: the current security password."""
    return click.option(
        "--password-file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        default=None,
        help=f"File holding the security password [default: ${PASSWORD_ENV}, else "
        "HOME/etc/password (kept by `directlink up`), else a prompt on the terminal].",
    )(func)


def open_ini(home: Path, config_path: Path | None) -> IniFile:
    """The client's ini file opened for reading or editing (ClickException if it cannot be)."""
    path = config_path_for(home, config_path)
    try:
        return IniFile(path)
    except ConfigError as exc:
        raise config_error(path, exc) from None


def ini_config(ini: IniFile) -> ClientConfig:
    """The validated config of an opened ini file (ClickException listing the problems)."""
    try:
        return ini.config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _read_password_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot read the password file: {exc}") from None


def _password_source(home: ClientHome, password_file: Path | None) -> str:
    """Where :func:`read_password` takes the password from (for error messages)."""
    if password_file is not None:
        return f" (from {password_file})"
    if os.environ.get(PASSWORD_ENV):
        return f" (from ${PASSWORD_ENV})"
    if home.password_file.exists():
        return f" (from {home.password_file})"
    return ""


def current_password(ini: IniFile, home: Path, password_file: Path | None,
                     *, prompt: str = "Security password") -> str | None:
    """The security password, checked against the ini's hash; ``None`` when none is set."""
    stored = ini.get("security", "password_hash")
    if not stored:
        return None
    client_home = ClientHome(home)
    try:
        password = read_password(client_home, password_file)
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read the security password: {exc}") from None
    source = _password_source(client_home, password_file) if password is not None else ""
    if password is None:
        password = prompt_secret(prompt, needed="the security password is needed")
    try:
        ok = verify_password(password, stored)
    except ValueError as exc:
        raise click.ClickException(
            f"{ini.source}: [security] password_hash: {exc}; "
            "the file was edited by hand") from None
    if not ok:
        raise click.ClickException(f"wrong security password{source}")
    return password


def new_password(password_file: Path | None, *, use_env: bool, option: str = "--password-file",
                 prompt: str = "New security password") -> str:
    """A new security password: from a file, the environment (if allowed) or typed twice.

    ``option`` is the option that names the file, for the error without a terminal.
    """
    if password_file is not None:
        password = _read_password_file(password_file)
    elif use_env and os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    else:
        how = (f"give {option} FILE or set ${PASSWORD_ENV}" if use_env
               else f"give {option} FILE")
        password = prompt_secret(prompt, needed="a new security password is needed", how=how,
                                 confirm=True)
    if not password.strip():
        raise click.ClickException("the security password must not be empty")
    return password


def key_password(password: str | None) -> bytes | None:
    """The private key's encryption password, encoded as the daemon encodes it."""
    return password_bytes(password) if password else None


def write_public(path: Path, data: bytes) -> None:
    """Write a public file atomically (readable by others; it holds no secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def relative_to_config(target: Path, config_file: Path) -> str:
    """``target`` as the ini should name it: relative to the ini file's directory."""
    try:
        return os.path.relpath(target.absolute(), config_file.absolute().parent)
    except ValueError:  # another drive on Windows
        return str(target.absolute())


def split_name(args: tuple[str, ...], values: int) -> tuple[str, str, tuple[str, ...]]:
    """``SECTION.KEY`` (or ``SECTION KEY``) followed by ``values`` more arguments."""
    if args and "." in args[0]:
        section, _, key = args[0].partition(".")
        rest = args[1:]
    elif len(args) >= 2:
        section, key, rest = args[0], args[1], args[2:]
    else:
        raise click.UsageError("expected SECTION.KEY (for example communication.port)")
    if len(rest) != values:
        what = "one value" if values == 1 else "no value"
        raise click.UsageError(
            f"expected SECTION.KEY and {what}, got {len(rest)} after the name "
            "(quote a value that contains spaces)")
    return section.strip().lower(), key.strip().lower(), rest


# --------------------------------------------------------------------------
# The commands.


@click.group("config")
def config() -> None:
    """Create, show, edit and check the client's ini file."""


@config.command()
@home_option
@config_option
@click.option("--corp-no", required=True, help="Enterprise code (e-banking customer number).")
@click.option("--user-no", required=True, help="Direct-connect operator number.")
@click.option("--core-host", default="127.0.0.1", show_default=True, help="The bank's host.")
@click.option("--core-port", type=click.IntRange(1, 65535), default=9003, show_default=True,
              help="The bank's direct-connect port.")
@click.option("--erp-port", type=click.IntRange(0, 65535), default=30010, show_default=True,
              help="Raw TCP port for ERP requests (0 = any free port).")
@click.option("--http-port", type=click.IntRange(0, 65535), default=8899, show_default=True,
              help="HTTP port for ERP requests (0 = any free port).")
@click.option("--certflag", type=click.Choice(["0", "1"]), default="1", show_default=True,
              help="1: sign and encrypt every message; 0: plain (testing only).")
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None,
              help=f"File holding the new security password [default: ${PASSWORD_ENV}, "
              "else a prompt on the terminal, typed twice].")
def init(home: Path, config_path: Path | None, corp_no: str, user_no: str, core_host: str,
         core_port: int, erp_port: int, http_port: int, certflag: str,
         password_file: Path | None) -> None:
    """Create the client's ini file, security password and key pair."""
    client = ClientHome(home)
    path = config_path_for(home, config_path)
    if path.exists():
        raise click.ClickException(
            f"{path} already exists; edit it with `directlink config set` "
            "(or remove it to start again)")
    private_key, public_key = client.keys / "client.key", client.keys / "client.pub"
    paths = {
        "private_key": relative_to_config(private_key, path),
        "certificate": relative_to_config(public_key, path),
        "bank_key": relative_to_config(client.keys / "bank.pub", path),
        "log_file": relative_to_config(client.log_dir / "directlink.log", path),
        "dir": relative_to_config(client.files, path),
    }

    def render(password_hash: str) -> str:
        return render_default_config(
            corp_no=corp_no, user_no=user_no, host=core_host, port=core_port,
            erp_port=erp_port, http_port=http_port, certflag=int(certflag),
            password_hash=password_hash, **paths)

    try:
        render("")  # check the options before asking for a password
    except ConfigError as exc:
        # The rendered text has no file name yet; name the file it is meant for.
        raise click.ClickException("\n".join(
            f"{path}: {error.path}: {error.reason}" for error in exc.errors)) from None

    password = new_password(password_file, use_env=True)
    if private_key.exists():
        try:
            key = SigningKey.from_pem(private_key.read_bytes(), key_password(password))
        except KeyFileError as exc:
            raise click.ClickException(
                f"{private_key}: {exc}; give the password it was encrypted with, "
                "or move it away to generate a new key") from None
        created = False
        if not public_key.exists():
            write_public(public_key, key.public.to_pem())
    else:
        key = SigningKey.generate()
        write_secret(private_key, key.to_pem(key_password(password)))
        write_public(public_key, key.public.to_pem())
        created = True
    make_private_dir(client.log_dir)
    IniFile.from_text(path, render(hash_password(password))).save()

    click.echo(f"created {path}")
    click.echo(f"{'generated' if created else 'kept'} the client key {private_key} "
               "(encrypted with the security password)")
    click.echo(f"client key id:          {key.key_id}")
    click.echo(f"client key fingerprint: {format_fingerprint(key.public.fingerprint)}")
    click.echo("next steps:")
    click.echo(f"  1. the bank enrolls the client key: directlink core enroll --home BANKHOME "
               f"--corp-no {corp_no} --user-no {user_no} {public_key}")
    click.echo(f"  2. pin the bank's key: directlink enroll --home {home} --bank-key FILE "
               "(check its fingerprint against the bank's key letter)")


@config.command()
@home_option
@config_option
@click.argument("section", required=False)
def show(home: Path, config_path: Path | None, section: str | None) -> None:
    """Show every setting (or one SECTION's) with what it means; secrets are masked."""
    ini = open_ini(home, config_path)
    if section is not None and section.lower() not in KNOWN_KEYS:
        raise click.ClickException(
            f"unknown section {section!r} (expected one of: {', '.join(KNOWN_KEYS)})")
    click.echo(f"# {ini.source}")
    current = None
    for sec, key, value, in_file in ini.items():
        if section is not None and sec != section.lower():
            continue
        if sec != current:
            click.echo(f"\n[{sec}]")
            current = sec
        default = "" if in_file else " [default]"
        click.echo(f"# {KNOWN_KEYS[sec][key].description}{default}")
        click.echo(f"{key} = {masked(sec, key, value)}".rstrip())


@config.command()
@home_option
@config_option
@click.argument("name", nargs=-1, required=True, metavar="SECTION.KEY")
def get(home: Path, config_path: Path | None, name: tuple[str, ...]) -> None:
    """Print one setting's value (a secret is only said to be set or not)."""
    section, key, _ = split_name(name, 0)
    ini = open_ini(home, config_path)
    try:
        value = ini.get(section, key)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(masked(section, key, value))


@config.command("set")
@home_option
@config_option
@password_file_option
@click.argument("args", nargs=-1, required=True, metavar="SECTION.KEY VALUE")
def set_(home: Path, config_path: Path | None, password_file: Path | None,
         args: tuple[str, ...]) -> None:
    """Change one setting, keeping the file's comments (needs the security password).

    The value is checked first; a value that would make the file invalid is
    refused and the file is left as it was.
    """
    section, key, (value,) = split_name(args, 1)
    if (section, key) in SECRET_KEYS:
        raise click.ClickException(
            f"[{section}] {key} cannot be set directly; "
            "change the security password with `directlink config passwd`")
    ini = open_ini(home, config_path)
    current_password(ini, home, password_file)
    try:
        ini.set(section, key, value)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    ini.save()
    click.echo(f"{ini.source}: [{section}] {key} = {masked(section, key, value.strip())}")
    click.echo("restart the daemon for the change to take effect", err=True)


@config.command()
@home_option
@config_option
def validate(home: Path, config_path: Path | None) -> None:
    """Check the whole file: prints OK, or every problem (exit status 1).

    With certflag = 1 it also warns about missing key files and an unpinned
    or mismatching bank key, which would stop the daemon from starting.
    """
    path = config_path_for(home, config_path)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        if not path.exists():  # nothing to list problems of: say how to make one
            raise config_error(path, exc) from None
        for error in exc.errors:
            click.echo(str(error), err=True)
        count = len(exc.errors)
        click.echo(f"{path}: {count} problem{'s' if count != 1 else ''}", err=True)
        raise SystemExit(1) from None
    if cfg.cert.secure:
        for warning in _key_warnings(cfg):
            click.echo(f"warning: {warning}", err=True)
    click.echo(f"OK: {path}")


def _key_warnings(cfg: ClientConfig) -> list[str]:
    warnings = []
    for name, file in (("private_key", cfg.enterprise.private_key),
                       ("certificate", cfg.enterprise.certificate)):
        if not file.exists():
            warnings.append(f"[enterprise] {name}: {file} does not exist "
                            "(run `directlink keys generate`)")
    try:
        load_bank_keys(cfg)
    except SetupError as exc:
        warnings.append(str(exc))
    return warnings


@config.command()
@home_option
@config_option
@password_file_option
@click.option("--new-password-file", type=click.Path(dir_okay=False, exists=True,
              path_type=Path), default=None,
              help="File holding the new password [default: a prompt on the terminal, "
              "typed twice].")
def passwd(home: Path, config_path: Path | None, password_file: Path | None,
           new_password_file: Path | None) -> None:
    """Change the security password and re-encrypt the private key with it."""
    client = ClientHome(home)
    ini = open_ini(home, config_path)
    cfg = ini_config(ini)
    old = current_password(ini, home, password_file, prompt="Current security password")
    new = new_password(new_password_file, use_env=False, option="--new-password-file")
    private_key = cfg.enterprise.private_key
    old_pem = pem = None
    if private_key.exists():
        old_pem = private_key.read_bytes()
        try:
            key = SigningKey.from_pem(old_pem, key_password(old))
        except KeyFileError as exc:
            raise click.ClickException(
                f"{private_key}: {exc}; it is not encrypted with the current security "
                "password, nothing was changed") from None
        pem = key.to_pem(key_password(new))
    try:
        ini.set("security", "password_hash", hash_password(new))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    # The key and the hash must change together: if the ini cannot be saved,
    # put the key back as it was, so the old password still opens both.
    if pem is not None:
        write_secret(private_key, pem)
    try:
        ini.save()
    except OSError as exc:
        if old_pem is not None:
            write_secret(private_key, old_pem)
        raise click.ClickException(
            f"{ini.source}: cannot save: {exc}; nothing was changed") from None
    if client.password_file.exists():
        write_secret(client.password_file, new.encode() + b"\n")
    click.echo(f"changed the security password in {ini.source}")
    if pem is not None:
        click.echo(f"re-encrypted {private_key}")
    else:
        click.echo(f"no private key at {private_key} to re-encrypt")
    if client.password_file.exists():
        click.echo(f"updated {client.password_file}")
