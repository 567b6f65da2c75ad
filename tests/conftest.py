"""Shared fixtures (none of them autouse) and the hypothesis profile."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.erp_client import Running, running_up

# pytester's in-process runs (tests/test_testing_*.py) take a snapshot of
# sys.modules and afterwards drop every module first imported inside them; a
# later test in the same process would then import half of the package anew
# beside the other half (construct declarations no longer match their codecs).
# Importing what the generated suites use here, first, keeps one copy.
for _module in ("approvals", "controls", "erp", "harness"):
    importlib.import_module(f"directlink.testing.{_module}")

# The machines that run the suite are shared and noisy: wall-clock health
# checks and deadlines would fail tests for the neighbours' load, not for ours.
settings.register_profile("default", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")


@pytest.fixture(scope="module")
def up_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One ``directlink up`` (demo seed, every port 0) for the whole test module."""
    home = tmp_path_factory.mktemp("up") / "home"
    with running_up(home) as system:
        yield system
