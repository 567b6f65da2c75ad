"""The one exception type that configuration loading raises.

Both the client's ini file and the core's YAML seed report problems as a
:class:`ConfigError` whose text names the file, the place in it and what is
wrong, so an admin can fix the file without reading code::

    etc/directlink.ini: [communication] port: not a port number: 'abc' (expected 1-65535)
    seed.yaml: enterprises[0].accounts[1].balance: negative amount: '-5.00'

Loaders collect every problem they find and raise one error listing them all
(:attr:`ConfigError.errors`), so a file with three mistakes takes one round
trip to fix, not three.
"""

from __future__ import annotations

from collections.abc import Sequence

#: More problems than this are summarised; a wildly wrong file (say, a seed
#: pasted into the ini) should produce a readable message, not a wall of text.
MAX_LISTED = 50


class ConfigError(Exception):
    """A configuration file (or text) that cannot be used, and why.

    ``source`` is the file name as given (``"<string>"`` for text), ``path``
    the place in it (``"enterprises[0].accounts[1].balance"`` for the seed,
    ``"[communication] port"`` for the ini file, ``""`` for the file as a
    whole) and ``reason`` what is wrong. For ini problems ``section`` and
    ``key`` are set too. ``errors`` lists every problem found (this one
    included); ``str()`` shows each on its own line as ``FILE: PATH: REASON``.
    """

    def __init__(
        self,
        source: str,
        path: str,
        reason: str,
        *,
        section: str | None = None,
        key: str | None = None,
    ) -> None:
        self.source = source
        self.path = path
        self.reason = reason
        self.section = section
        self.key = key
        self.errors: list[ConfigError] = [self]
        super().__init__(self._line())

    @classmethod
    def collect(cls, errors: Sequence[ConfigError]) -> ConfigError:
        """One error standing for all of ``errors`` (which must not be empty).

        Its source, path and reason are those of the first problem, so code
        that only looks at one problem still sees a real one.
        """
        if not errors:
            raise ValueError("no errors to collect")
        if len(errors) == 1:
            return errors[0]
        first = errors[0]
        combined = cls(first.source, first.path, first.reason, section=first.section, key=first.key)
        combined.errors = list(errors)
        combined.args = (str(combined),)
        return combined

    def _line(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.source}: {where}{self.reason}"

    def __str__(self) -> str:
        if len(self.errors) == 1:
            return self._line()
        lines = [error._line() for error in self.errors[:MAX_LISTED]]
        if len(self.errors) > MAX_LISTED:
            lines.append(f"{self.source}: ... and {len(self.errors) - MAX_LISTED} more problems")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ConfigError({str(self)!r})"


class ConfigRowError(ConfigError, ValueError):
    """A problem in one row of a list kept in a file beside the config (a seed's CSV).

    Such rows are read, and so checked, only when they are used — a million
    payers are never held in memory at once — so this is raised by whoever
    applies the seed, after loading it succeeded. ``line`` is the row's line
    in the file (None for a row written in the seed itself). It is a
    ValueError too: code applying a seed already reports a ValueError as "this
    seed cannot be applied", which is what it is.
    """

    def __init__(
        self,
        source: str,
        path: str,
        reason: str,
        *,
        line: int | None = None,
        section: str | None = None,
        key: str | None = None,
    ) -> None:
        self.line = line
        super().__init__(source, path, reason, section=section, key=key)

    @classmethod
    def collect(cls, errors: Sequence[ConfigError]) -> ConfigError:
        combined = super().collect(errors)
        if isinstance(combined, ConfigRowError) and len(errors) > 1:
            combined.line = getattr(errors[0], "line", None)
        return combined

    def _line(self) -> str:
        where = f"{self.path}: " if self.path else ""
        at = f", line {self.line}" if self.line is not None else ""
        return f"{self.source}{at}: {where}{self.reason}"
