"""A ``directlink`` process whose command line arrives on stdin (for the test harness).

``python -m directlink.testing.launcher GROUP`` imports the command group
``GROUP`` (``core`` or ``daemon``; none: the whole CLI) at once, then reads one
line from stdin, a JSON list of arguments, and runs ``directlink GROUP ARGS``
in this process: the same click command the ``directlink`` script runs, with
the same options. The harness starts it before it knows the arguments: the
daemon's arguments need the bank's port, and importing (about 0.4 s on the
project's 2-core machine) is most of a process's startup, so doing it while
the bank starts takes it off the critical path. Importing one group rather
than the whole CLI saves the modules the command does not use (``send``,
``up``, ``keys``…). End of file instead of a line means "not needed": it
exits 0.

While it runs, a thread watches the parent (the test process): if that goes
away (killed with -9, Ctrl-C'd twice), the launcher sends itself SIGTERM, so
the command shuts down cleanly instead of lingering.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time

import click

#: The command groups worth importing alone: (module, attribute).
GROUPS = {"core": ("directlink.commands.core", "core"),
          "daemon": ("directlink.commands.daemon", "daemon_group")}


def _command(group: str) -> click.Command:
    if not group:
        from directlink.cli import cli
        return cli
    module, name = GROUPS[group]
    return getattr(importlib.import_module(module), name)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    group = sys.argv[1] if len(sys.argv) > 1 else ""
    command = _command(group)
    parent = os.getppid()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="watch-parent").start()
    line = sys.stdin.readline()
    if not line.strip():
        return
    args = json.loads(line)
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise SystemExit(f"launcher: expected a JSON list of strings, got {line!r}")
    command.main(args=args, prog_name=f"directlink {group}".strip())


if __name__ == "__main__":
    main()
