"""Reading and validating ini text into a :class:`~config.ini.model.ClientConfig`.

Every problem is reported with file, section and key
(``etc/directlink.ini: [communication] port: ...``), all of them at once.

Comments start a line with ``#`` or ``;``. There are no inline comments: a
``#`` after a value is part of the value, as in the bank's own client.
"""

from __future__ import annotations

import configparser
import difflib
import os
from pathlib import Path

from config.errors import ConfigError
from config.ini.keys import KNOWN_KEYS
from config.ini.model import (
    BindConfig,
    CertConfig,
    ClientConfig,
    CommunicationConfig,
    EnterpriseConfig,
    FilesConfig,
    ForwardConfig,
    SecurityConfig,
)
from config.ini.values import PARSERS, Context, InvalidValue


def key_path(section: str, key: str | None = None) -> str:
    """Where a problem is, for messages: ``[section] key`` or ``[section]``."""
    return f"[{section}] {key}" if key else f"[{section}]"


def suggest(name: str, known: list[str]) -> str:
    """A hint for an unknown name: the closest known one, else all of them."""
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


def read_syntax(text: str, source: str) -> configparser.ConfigParser:
    """configparser's reading of ``text``, or a ConfigError for broken syntax."""
    parser = _new_parser()
    try:
        parser.read_string(text, source)
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(
            source,
            key_path(exc.section),
            f"section appears twice (again on line {exc.lineno})",
            section=exc.section,
        ) from None
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(
            source,
            key_path(exc.section, exc.option),
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


def check_text(
    text: str, source: str, base_dir: Path
) -> tuple[ClientConfig | None, list[ConfigError]]:
    """Every problem with ``text``; the config only when there are none.

    Raises ConfigError only for broken syntax, where nothing else can be said.
    """
    parser = read_syntax(text, source)
    errors: list[ConfigError] = []
    for section in parser.sections():
        if section not in KNOWN_KEYS:
            reason = f"unknown section{suggest(section, list(KNOWN_KEYS))}"
            errors.append(ConfigError(source, key_path(section), reason, section=section))
            continue
        for key in parser.options(section):
            if key not in KNOWN_KEYS[section]:
                reason = f"unknown key{suggest(key, list(KNOWN_KEYS[section]))}"
                errors.append(
                    ConfigError(source, key_path(section, key), reason, section=section, key=key)
                )

    ctx = Context(base_dir)
    values: dict[tuple[str, str], object] = {}
    for section, keys in KNOWN_KEYS.items():
        for key, spec in keys.items():
            where = key_path(section, key)
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
                    raise InvalidValue("must be on one line (an indented line continues the value)")
                values[section, key] = PARSERS[section, key](raw, ctx)
            except InvalidValue as exc:
                errors.append(ConfigError(source, where, str(exc), section=section, key=key))

    erp, http = values.get(("forward", "erp_port")), values.get(("forward", "http_port"))
    if erp and erp == http:
        errors.append(
            ConfigError(
                source,
                key_path("forward", "http_port"),
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
        files=FilesConfig(**section_values("files")),
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
    config, errors = check_text(text, source, base)
    if errors:
        raise ConfigError.collect(errors)
    assert config is not None
    return config


def read_text(path: str | os.PathLike[str]) -> tuple[str, bool]:
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
    text, _ = read_text(path)
    return parse_config(text, os.fspath(path), Path(path).absolute().parent)
