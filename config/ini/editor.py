"""Editing an ini file in place, keeping the admin's comments and layout.

An edit that would make the file invalid is refused; saving is atomic.
"""

from __future__ import annotations

import configparser
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from config.errors import ConfigError
from config.files import write_atomically
from config.ini.keys import KNOWN_KEYS, SECRET_KEYS, KeySpec
from config.ini.model import ClientConfig
from config.ini.parsing import (
    check_text,
    key_path,
    parse_config,
    read_syntax,
    read_text,
    suggest,
)

_SECTION_LINE = configparser.ConfigParser.SECTCRE
_OPTION_LINE = re.compile(r"(?P<key>.*?)\s*(?P<sep>[=:])(?P<space>\s*)(?P<value>.*)")
_COMMENT_PREFIXES = ("#", ";")


@dataclass(slots=True)
class _Layout:
    """Where sections and keys sit in the file's lines (mirrors configparser)."""

    sections: dict[str, tuple[int, int]]  # section -> (header line, last line with content)
    keys: dict[tuple[str, str], tuple[int, int]]  # (section, key) -> (first, last line)


def _layout(lines: list[str]) -> _Layout:
    sections: dict[str, tuple[int, int]] = {}
    keys: dict[tuple[str, str], tuple[int, int]] = {}
    section: str | None = None
    option: tuple[str, str] | None = None
    indent = 0
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(_COMMENT_PREFIXES):
            option = None  # a blank or comment line ends a multi-line value
            continue
        level = len(line) - len(line.lstrip())
        if option is not None and level > indent:
            keys[option] = (keys[option][0], number)
        else:
            indent = level
            header = _SECTION_LINE.match(stripped)
            if header:
                section = header.group("header")
                sections[section] = (number, number)
                option = None
                continue
            match = _OPTION_LINE.match(stripped)
            if section is None or match is None:
                continue  # syntax was checked before; nothing to track
            option = (section, match.group("key").rstrip().lower())
            keys[option] = (number, number)
        if section is not None:
            sections[section] = (sections[section][0], number)
    return _Layout(sections, keys)


class IniFile:
    """An ini file opened for editing, keeping its comments and order.

    ``set`` checks the edited file as a whole and refuses a value that makes
    it worse, so a file edited only through this class stays loadable;
    ``save`` replaces the file atomically with the same permissions.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        text, bom = read_text(path)
        self._init(path, text, bom)

    @classmethod
    def from_text(cls, path: str | os.PathLike[str], text: str) -> IniFile:
        """A new file at ``path`` (written on :meth:`save`) holding ``text``."""
        ini = cls.__new__(cls)
        ini._init(path, text, bom=False)
        return ini

    def _init(self, path: str | os.PathLike[str], text: str, bom: bool) -> None:
        self.path = Path(path)
        self.source = os.fspath(path)
        self._bom = bom
        self._lines = text.splitlines(keepends=True)
        self._newline = "\r\n" if "\r\n" in text else "\n"
        read_syntax(text, self.source)  # values may be wrong (set can fix them); syntax not

    @property
    def text(self) -> str:
        return "".join(self._lines)

    @property
    def base_dir(self) -> Path:
        return self.path.absolute().parent

    def config(self) -> ClientConfig:
        """The file as a validated :class:`ClientConfig` (ConfigError if it is not valid)."""
        return parse_config(self.text, self.source, self.base_dir)

    def _spec(self, section: str, key: str) -> KeySpec:
        if section not in KNOWN_KEYS:
            raise ConfigError(
                self.source,
                key_path(section),
                f"unknown section{suggest(section, list(KNOWN_KEYS))}",
                section=section,
            )
        spec = KNOWN_KEYS[section].get(key)
        if spec is None:
            raise ConfigError(
                self.source,
                key_path(section, key),
                f"unknown key{suggest(key, list(KNOWN_KEYS[section]))}",
                section=section,
                key=key,
            )
        return spec

    def is_set(self, section: str, key: str) -> bool:
        """Whether the file itself gives ``key`` a value (rather than the default)."""
        self._spec(section, key)
        return read_syntax(self.text, self.source).has_option(section, key)

    def get(self, section: str, key: str) -> str:
        """The value of ``key`` as written in the file, else its default ("" if none)."""
        spec = self._spec(section, key)
        parser = read_syntax(self.text, self.source)
        if parser.has_option(section, key):
            return parser.get(section, key).strip()
        return spec.default or ""

    def items(self) -> Iterator[tuple[str, str, str, bool]]:
        """Every known key: ``(section, key, value, set_in_file)``, in documented order.

        Values are raw; pass them through :func:`masked` before showing them.
        """
        parser = read_syntax(self.text, self.source)
        for section, keys in KNOWN_KEYS.items():
            for key, spec in keys.items():
                if parser.has_option(section, key):
                    yield section, key, parser.get(section, key).strip(), True
                else:
                    yield section, key, spec.default or "", False

    def set(self, section: str, key: str, value: str) -> None:
        """Give ``key`` a new value, in place, keeping every comment.

        Raises ConfigError, changing nothing, when the value is not valid for
        the key or the edit would add any other problem to the file.
        """
        spec = self._spec(section, key)
        where = key_path(section, key)
        value = value.strip()
        if any(ord(char) < 0x20 or char == "\x7f" for char in value):
            shown = "the value" if (section, key) in SECRET_KEYS else repr(value)
            raise ConfigError(
                self.source,
                where,
                f"{shown} contains a line break or control character",
                section=section,
                key=key,
            )
        lines = self._edited(section, key, value, spec)
        text = "".join(lines)
        _, before = check_text(self.text, self.source, self.base_dir)
        _, after = check_text(text, self.source, self.base_dir)
        known = {str(error) for error in before}
        new = [
            error
            for error in after
            if (error.section, error.key) == (section, key) or str(error) not in known
        ]
        if new:
            raise ConfigError.collect(new)
        # Belt and braces: the line editor must agree with configparser.
        if read_syntax(text, self.source).get(section, key).strip() != value:
            raise AssertionError(f"editing {where} did not produce the value")
        self._lines = lines

    def _edited(self, section: str, key: str, value: str, spec: KeySpec) -> list[str]:
        lines = list(self._lines)
        layout = _layout(lines)
        nl = self._newline
        if (section, key) in layout.keys:
            first, last = layout.keys[section, key]
            line = lines[first]
            body = line.rstrip("\r\n")
            eol = line[len(body) :] or nl
            indent = body[: len(body) - len(body.lstrip())]
            match = _OPTION_LINE.match(body.lstrip())
            assert match is not None
            head = body.lstrip()[: match.start("space")]
            space = match.group("space") or " "
            lines[first : last + 1] = [f"{indent}{head}{space if value else ''}{value}{eol}"]
            return lines
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += nl
        new = [f"# {spec.sentence}{nl}", f"{key} = {value}".rstrip() + nl]
        if section in layout.sections:
            _, last = layout.sections[section]
            lines[last + 1 : last + 1] = new
        else:
            if lines and lines[-1].strip():
                lines.append(nl)
            lines += [f"[{section}]{nl}", *new]
        return lines

    def save(self) -> None:
        """Write the file atomically (temp file + rename), keeping its permissions.

        A new file gets mode 0600: it holds the security password's hash.
        """
        try:
            mode = stat.S_IMODE(os.stat(self.path).st_mode)
        except FileNotFoundError:
            mode = 0o600
        data = self.text.encode("utf-8")
        if self._bom:
            data = b"\xef\xbb\xbf" + data
        write_atomically(self.path, data, mode=mode)
