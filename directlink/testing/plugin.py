"""The directlink pytest plugin: a real bank and client daemon as fixtures.

Installed with the package (entry point ``pytest11: directlink``), so any
test suite in an environment where directlink is installed can use:

* ``directlink_bank`` — a bank core (``directlink core serve``) from the seed
  of ``directlink_seed``, in a temporary home, on a free port; stopped at
  teardown, and its ledger checked (``directlink core check``'s checks)
  unless ``directlink_check`` is false;
* ``directlink_client`` — a client daemon (``directlink daemon serve``) for
  the seed's first enterprise and user, enrolled with that bank;
* ``erp`` — a :class:`~directlink.testing.erp.ErpClient` talking to it;
* ``directlink_seed`` — the seed (default: None, the demo seed); override it;
* ``directlink_check`` — whether to check the ledger at teardown;
* ``directlink_factory`` — session-scoped: start pairs that live for the
  whole session (or until stopped), for suites that share one bank.

Every fixture works in its own ``tmp_path`` and on ports the kernel picks, so
tests run in parallel under pytest-xdist. See docs/testing-with-directlink.md.

This module imports nothing of directlink until a fixture is used: the
plugin is loaded into every pytest run of an environment that has directlink
installed, and must not slow down the ones that do not use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from directlink.testing.approvals import BankApprovals
    from directlink.testing.controls import BankClock, BankJournal, BankRules
    from directlink.testing.erp import ErpClient
    from directlink.testing.harness import Bank, Client, Pair, SeedSpec

_STDERR_TAIL = 4000


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("directlink", "directlink bank and client fixtures")
    group.addoption("--directlink-no-check", action="store_true", default=False,
                    help="directlink: do not check the bank's ledger at teardown")
    parser.addini("directlink_check", type="bool", default=True,
                  help="directlink: check the bank's ledger invariants at teardown "
                  "(default true)")


# -- choices a test suite overrides ------------------------------------------------------


@pytest.fixture
def directlink_seed() -> SeedSpec:
    """The seed ``directlink_bank`` starts from: None means the demo seed.

    Override it to use your own bank, in a test module, a class or a
    conftest.py::

        @pytest.fixture
        def directlink_seed():
            return Path(__file__).with_name("bank.yaml")   # a file (Path)

    It may return YAML text (a ``str``), a file (a ``pathlib.Path``; CSV
    lists beside it are found), or a dict shaped like the YAML document
    (amounts as ``str`` or ``Decimal``). A single test can choose its own
    with ``@pytest.mark.parametrize("directlink_seed", [SEED])``.
    """
    return None


@pytest.fixture
def directlink_check(request: pytest.FixtureRequest) -> bool:
    """Whether ``directlink_bank`` checks the ledger's invariants at teardown.

    True unless ``--directlink-no-check`` is given or the ini option
    ``directlink_check`` is false; override the fixture (return False) for
    tests that break the ledger on purpose.
    """
    config = request.config
    return bool(config.getini("directlink_check")) and \
        not config.getoption("directlink_no_check")


# -- the function-scoped fixtures -------------------------------------------------------


@pytest.fixture
def directlink_bank(request: pytest.FixtureRequest, tmp_path: Path,
                    directlink_seed: SeedSpec, directlink_check: bool) -> Iterator[Bank]:
    """A bank core from ``directlink_seed``, READY on a free port, in ``tmp_path``.

    Yields a :class:`~directlink.testing.harness.Bank` (``.address``,
    ``.root``, ``.seed``, ``.clear()``, ``.end_of_day()``, ``.check()``).
    At teardown the core is stopped (SIGTERM, then SIGKILL) and, unless
    ``directlink_check`` is false, the ledger is checked as ``directlink
    core check`` checks it: a broken invariant fails the test at teardown.
    """
    from directlink.testing.harness import start_bank

    # A test that also wants the client: its process starts importing now, in parallel.
    wants_client = "directlink_client" in request.fixturenames
    bank = start_bank(tmp_path / "directlink", directlink_seed, prewarm_client=wants_client)
    try:
        yield bank
    finally:
        bank.stop()
    if directlink_check:
        _check(bank)


@pytest.fixture
def directlink_client(directlink_bank: Bank) -> Iterator[Client]:
    """A client daemon enrolled with ``directlink_bank``, READY on free ports.

    It acts for the seed's first enterprise and its first user, with
    certflag=1 (keys generated, the bank's key pinned, the security password
    passed in ``$DIRECTLINK_PASSWORD``). Yields a
    :class:`~directlink.testing.harness.Client` (``.erp_tcp``, ``.erp_http``,
    ``.exchange_dir``, ``.config``, ``.erp()``); stopped at teardown.
    """
    from directlink.testing.harness import start_client

    client = start_client(directlink_bank)
    try:
        yield client
    finally:
        client.stop()


@pytest.fixture
def erp(directlink_client: Client) -> ErpClient:
    """An ERP client for ``directlink_client``: raw TCP, GBK (``erp.over("http")`` for HTTP).

    ``erp.send(tr_code, body)`` sends anything; typed helpers build each
    transaction: ``balance``, ``today``, ``history``, ``transfer``,
    ``payment``, ``status``, ``batch_pay``, ``batch_collect``,
    ``batch_status``, ``batch_items``, ``agreements``. Replies are
    :class:`~directlink.testing.erp.Reply` objects.
    """
    return directlink_client.erp()


@pytest.fixture
def bank_clock(directlink_bank: Bank) -> BankClock:
    """The bank's business clock: ``set("2026-12-01 09:00")``, ``advance(hours=2)``,
    ``freeze()``, ``end_of_day()``, ``.now``, ``.business_date``.

    Moving past midnight runs end of day for each day crossed; ``advance``
    also runs one clearing cycle. While frozen, no clearing runs by itself.
    """
    return directlink_bank.clock


@pytest.fixture
def bank_rules(directlink_bank: Bank) -> BankRules:
    """The bank's scenario rules: ``add(when={...}, then={...})``, ``load(yaml)``, ``clear()``."""
    return directlink_bank.rules


@pytest.fixture
def bank_approvals(directlink_bank: Bank) -> BankApprovals:
    """The enterprise's approvers: ``authorize(req_no)``, ``approve(req_no, "B01")``,
    ``reject(req_no)``, ``waiting()`` — for instructions answered A001 (docs/approvals.md)."""
    return directlink_bank.approvals


@pytest.fixture
def bank_journal(directlink_bank: Bank) -> BankJournal:
    """What the bank received and did: ``find(tr_code=...)``, ``assert_called(...)``."""
    return directlink_bank.journal


# -- the session factory ------------------------------------------------------------------


class DirectlinkFactory:
    """Starts bank + client pairs that live until the end of the session (or ``stop``).

    ``start(seed=None, *, check=True, clearing_interval=3.0)`` returns a
    :class:`~directlink.testing.harness.Pair` (``.bank``, ``.client``,
    ``.erp()``). At the end of the session every pair still running is
    stopped and, if started with ``check=True``, its ledger checked.
    """

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._pairs: list[tuple[Pair, bool]] = []

    def start(self, seed: SeedSpec = None, *, check: bool = True,
              clearing_interval: float = 3.0) -> Pair:
        from directlink.testing.harness import start_pair

        pair = start_pair(self._tmp.mktemp("directlink"), seed,
                          clearing_interval=clearing_interval)
        self._pairs.append((pair, check))
        return pair

    def stop(self, pair: Pair) -> None:
        """Stop ``pair`` now (and check its ledger if it was started with check=True)."""
        for index, (known, check) in enumerate(self._pairs):
            if known is pair:
                del self._pairs[index]
                pair.stop()
                if check:
                    _check(pair.bank)
                return
        raise ValueError("not a pair of this factory, or stopped already")

    def close(self) -> None:
        failures: list[str] = []
        while self._pairs:
            pair, check = self._pairs.pop()
            pair.stop()
            if check:
                report = pair.bank.check()
                if not report.ok:
                    failures.append(_check_failure(pair.bank, report))
        if failures:
            pytest.fail("\n\n".join(failures), pytrace=False)


@pytest.fixture(scope="session")
def directlink_factory(tmp_path_factory: pytest.TempPathFactory
                       ) -> Iterator[DirectlinkFactory]:
    """Session-scoped: start bank + client pairs once and share them between tests.

    ::

        @pytest.fixture(scope="session")
        def shared(directlink_factory):
            return directlink_factory.start(MY_SEED)   # a Pair, up for the session

        def test_balance(shared):
            assert shared.erp().available(ACNO) > 0

    A shared bank keeps what earlier tests did (balances, used req_nos): use
    it for reads and for tests that do not depend on each other's effects.
    """
    factory = DirectlinkFactory(tmp_path_factory)
    try:
        yield factory
    finally:
        factory.close()


# -- checks and reports -------------------------------------------------------------------


def _check(bank: Bank) -> None:
    report = bank.check()
    if not report.ok:
        pytest.fail(_check_failure(bank, report), pytrace=False)


def _check_failure(bank: Bank, report: Any) -> str:
    return (f"directlink core check --home {bank.root}: {len(report.failed)} of "
            f"{len(report.checks)} ledger invariants broken\n{report}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """On a failure, show what the test's bank and daemon wrote on stderr."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in ("directlink_bank", "directlink_client"):
            process = funcargs.get(name)
            if process is not None and hasattr(process, "stderr"):
                text = process.stderr().strip() or "(nothing on stderr)"
                report.sections.append(
                    (f"{name} (home {process.root})", text[-_STDERR_TAIL:]))
    return report
