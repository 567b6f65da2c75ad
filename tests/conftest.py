"""Shared fixtures. Only fixtures live here, none of them autouse."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.erp_client import Running, running_up


@pytest.fixture(scope="module")
def up_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One ``directlink up`` (demo seed, every port 0) for the whole test module."""
    home = tmp_path_factory.mktemp("up") / "home"
    with running_up(home) as system:
        yield system
