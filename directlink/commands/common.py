"""What the subcommands share: the --home option, config loading, error style."""

from __future__ import annotations

import os
from pathlib import Path

import click

from config.errors import ConfigError
from config.ini import ClientConfig, load_config
from daemon.home import ClientHome, SetupError

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


def fail(exc: Exception) -> click.ClickException:
    """A user-facing one-line error for the errors our modules raise on purpose."""
    return click.ClickException(str(exc))


__all__ = ["ClickException", "ConfigError", "SetupError", "config_option", "fail",
           "home_option", "load_client_config"]
ClickException = click.ClickException
