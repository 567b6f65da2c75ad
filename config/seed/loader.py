"""Reading a seed: YAML text or a file in, a complete :class:`Seed` or a ConfigError out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from config.errors import ConfigError
from config.seed.checks import show
from config.seed.document import SeedChecker
from config.seed.model import Seed


def load_yaml(text: str) -> Any:
    """``text`` as YAML the way the seed is read: safe, and a key written twice is an error.

    Raises yaml.YAMLError (a MarkedYAMLError with the place) when it is not.
    """
    return yaml.load(text, Loader=_SeedLoader)


class _SeedLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys.

    Plain YAML keeps the last of two equal keys, so a balance written twice
    would silently take the second value; in a ledger's opening balances that
    is a mistake to report, not to guess about.
    """

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<' merges are explicit overrides, not duplicates
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:
                    continue  # unhashable: the base class reports it properly
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # PyYAML's constructors raise plain ValueError for scalars that look
        # typed but are not (an unquoted date 2026-13-01, "!!int abc"); give
        # them the node's position like every other YAML error.
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"cannot read {show(node.value)}: {exc}"
                if isinstance(node, yaml.ScalarNode)
                else str(exc),
                node.start_mark,
            ) from None


def parse_seed(text: str, source: str = "<string>", *,
               base_dir: str | os.PathLike[str] | None = None) -> Seed:
    """Parse and validate seed YAML; a complete :class:`Seed` or a :class:`ConfigError`.

    Every problem found is reported at once (``ConfigError.errors``), each
    with its path in the document, e.g. ``enterprises[0].accounts[1].balance``.
    ``base_dir`` is where lists kept in files (``{file: NAME.csv}``) are
    found: the seed file's directory (:func:`load_seed` passes it); without
    it such a list is an error. Their rows are checked when they are read.
    """
    try:
        document = yaml.load(text, Loader=_SeedLoader)  # a SafeLoader subclass: no objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "not valid YAML"
        raise ConfigError(source, where, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, "", f"not valid YAML: {exc}") from None
    except (ValueError, TypeError, OverflowError) as exc:
        # PyYAML's constructors raise plain ValueError for values that look
        # typed but are not, e.g. an unquoted date 2026-13-01.
        raise ConfigError(source, "", f"not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(source, "", "not valid YAML: nested too deeply") from None
    checker = SeedChecker(source, None if base_dir is None else Path(base_dir))
    seed = checker.seed(document)
    errors = checker.all_errors()
    if errors:
        raise ConfigError.collect(errors)
    if seed is None:  # every failing path records an error, so this is a bug
        raise AssertionError("seed check failed without an error")
    return seed


def load_seed(path: str | os.PathLike[str]) -> Seed:
    """Read a seed file (UTF-8) and :func:`parse_seed` it; CSV lists are found beside it."""
    source = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "", f"not UTF-8 text (bad byte at offset {exc.start})") from None
    return parse_seed(text, source, base_dir=Path(path).parent)
