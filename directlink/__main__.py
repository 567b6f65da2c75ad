"""``python -m directlink``: the same as the ``directlink`` command."""

from directlink.cli import main

main()
