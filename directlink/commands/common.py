"""What the subcommands share: the --home option, config loading, error style."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from config.errors import ConfigError
from config.ini import ClientConfig, load_config
from daemon.home import PASSWORD_ENV, ClientHome, SetupError

DEFAULT_HOME = "directlink-home"
HOME_ENV = "DIRECTLINK_HOME"


def home_option(func):
    """``--home DIR`` (default: $DIRECTLINK_HOME or ./directlink-home)."""
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get(HOME_ENV, DEFAULT_HOME),
        show_default=f"${HOME_ENV} or ./{DEFAULT_HOME}",
        help="The directlink home directory.",
    )(func)


def nested_home_option(func):
    """``--home DIR`` for a group and each of its subcommands: ``core clock --home D show``
    and ``core clock show --home D`` alike. The subcommand's wins, then the group's,
    then $DIRECTLINK_HOME or ./directlink-home."""

    def resolve(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
        if value is not None:
            return value
        if ctx.parent is not None and isinstance(ctx.parent.params.get("home"), Path):
            return ctx.parent.params["home"]
        return Path(os.environ.get(HOME_ENV, DEFAULT_HOME))

    return click.option(
        "--home", type=click.Path(file_okay=False, path_type=Path), default=None,
        callback=resolve, help=f"The directlink home directory (default: ${HOME_ENV} or"
        f" ./{DEFAULT_HOME}).")(func)


def config_option(func):
    """``--config FILE`` (default: HOME/etc/directlink.ini)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="The client's ini file [default: HOME/etc/directlink.ini].",
    )(func)


def config_path_for(home: Path, config_path: Path | None) -> Path:
    return config_path if config_path is not None else ClientHome(home).config


def config_error(path: Path, exc: ConfigError) -> click.ClickException:
    """A one-line error for a config that cannot be loaded, with what to do when missing."""
    if not path.exists():
        return click.ClickException(f"{path}: no client config; create one with "
                                    "`directlink config init` (or run `directlink up`)")
    return click.ClickException(str(exc))


def load_client_config(home: Path, config_path: Path | None) -> ClientConfig:
    path = config_path_for(home, config_path)
    try:
        return load_config(path)
    except ConfigError as exc:
        raise config_error(path, exc) from None


def can_prompt() -> bool:
    """Whether there is someone to ask: stdin is a terminal.

    Under a service manager or in a script it is not, and getpass would warn,
    echo the prompt and read end-of-file ("Aborted!").
    """
    return sys.stdin.isatty()


#: How to give the security password without a terminal.
PASSWORD_HOW = f"give --password-file FILE or set ${PASSWORD_ENV}"


def prompt_secret(prompt: str, *, needed: str, how: str = PASSWORD_HOW,
                  confirm: bool = False) -> str:
    """A hidden prompt (on stderr); a one-line error saying ``how`` when there is no terminal."""
    if not can_prompt():
        raise click.ClickException(f"{needed}, and there is no terminal to ask for it: {how}")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)


def confirm(question: str, *, needed: str, how: str) -> None:
    """Ask ``question`` (abort on no); a one-line error saying ``how`` without a terminal."""
    if not can_prompt():
        raise click.ClickException(f"{needed}, and there is no terminal to ask: {how}")
    click.confirm(question, abort=True, err=True)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 check``, ``2 checks``: the count and the noun that agrees with it."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def fail(exc: Exception) -> click.ClickException:
    """A user-facing one-line error for the errors our modules raise on purpose."""
    return click.ClickException(str(exc))


__all__ = ["PASSWORD_HOW", "ClickException", "ConfigError", "SetupError", "can_prompt",
           "config_option", "confirm", "fail", "home_option", "load_client_config",
           "nested_home_option", "plural",
           "prompt_secret"]
ClickException = click.ClickException
