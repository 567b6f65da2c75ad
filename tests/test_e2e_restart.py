"""The core and the daemon as separate processes: kill the core mid-flight, restart it.

The home is created by ``directlink up`` (then stopped); the module then runs
``directlink core serve`` and ``directlink daemon serve`` on it, as in
production. With ERP transfers in flight, the core is frozen (SIGSTOP, so
requests are certainly sent and unanswered) and killed (SIGKILL). Every ERP
reply must be the truth as far as the daemon can know it: success if the
bank answered, D008 "outcome unknown" if the request was sent, D007 if it was
never sent — never a failure. After the core restarts on the same port the
daemon reconnects by itself, 310204 resolves every unknown req_no, the money
adds up and ``directlink core check`` passes.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from pathlib import Path

import pytest

from tests.erp_client import (
    ACNO_1,
    ACNO_2,
    ErpClient,
    Reply,
    Running,
    cli,
    payment_body,
    running_up,
    start_process,
    transfer_body,
    unique_req_no,
)

#: 310204 stat values.
SUCCESS, FAILED, NO_SUCH_RECORD = "1", "2", "4"


@dataclass
class Processes:
    home: Path
    core: Running
    daemon: Running | None
    core_port: int

    def erp(self, transport: str = "tcp") -> ErpClient:
        assert self.daemon is not None
        return self.daemon.client(transport)

    def start_core(self) -> Running:
        self.core.stop(signal.SIGKILL)  # reaps it if it is already dead
        self.core = start_process(["core", "serve", "--home", str(self.home), "--port",
                                   str(self.core_port)], self.home, log_name="core")
        return self.core


@pytest.fixture(scope="module")
def procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    home = tmp_path_factory.mktemp("restart") / "home"
    with running_up(home):
        pass  # create the home: ledger, keys, enrolment, client config
    core = start_process(["core", "serve", "--home", str(home), "--port", "0"], home,
                         log_name="core")
    processes = Processes(home, core, None, core.addresses["core"][1])
    try:
        processes.daemon = start_process(
            ["daemon", "serve", "--home", str(home), "--core-port", str(processes.core_port),
             "--erp-port", "0", "--http-port", "0"], home, log_name="daemon")
        yield processes
    finally:
        for running in (processes.daemon, processes.core):
            if running is not None and running.proc.poll() is None:
                running.stop()


def wait_until_answered(erp: ErpClient, timeout: float) -> float:
    """Seconds until a 310101 succeeds again."""
    started = time.monotonic()
    while True:
        reply = erp.send("310101", {"acno": ACNO_1}, req_no=unique_req_no("W"))
        if reply.ok:
            return time.monotonic() - started
        assert reply.code in ("D007", "D008"), reply
        assert time.monotonic() - started < timeout, f"no answer within {timeout} s: {reply}"
        time.sleep(0.2)


def test_separate_processes_serve_erp_requests(procs: Processes) -> None:
    assert set(procs.core.addresses) == {"core"}
    assert set(procs.daemon.addresses) == {"erp_tcp", "erp_http"}
    erp = procs.erp()
    payer = erp.balance(ACNO_1)
    reply = erp.send("210201", transfer_body("1.00"), req_no=unique_req_no())
    assert reply.ok and reply.body["stat"] == "1", reply
    assert erp.balance(ACNO_1) == payer - Decimal("1.00")


@dataclass
class Sent:
    req_no: str
    tr_code: str
    body: dict
    amt: Decimal
    reply: Reply | None = None
    error: str = ""


class Load:
    """ERP threads posting transfers until stopped, one connection per request."""

    def __init__(self, erp: ErpClient, threads: int) -> None:
        self.erp = erp
        self.sent: list[Sent] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.numbers = count(1)
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self, timeout: float = 60) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
            assert not thread.is_alive()

    def run(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                n = next(self.numbers)
            amt = Decimal(n % 7 + 1)
            if n % 4 == 0:
                item = Sent(unique_req_no("K"), "210224", payment_body(f"{amt}.00"), amt)
            else:
                item = Sent(unique_req_no("K"), "210201", transfer_body(f"{amt}.00"), amt)
            self.send(item)

    def send(self, item: Sent) -> None:
        try:
            item.reply = self.erp.send(item.tr_code, item.body, req_no=item.req_no)
        except Exception as exc:  # recorded, and fails the test below
            item.error = repr(exc)
        with self.lock:
            self.sent.append(item)


def check_reply(item: Sent) -> str:
    """What the ERP was told: 'ok', 'unknown' or 'not_sent' (anything else fails)."""
    reply = item.reply
    assert reply is not None, f"{item.req_no}: no reply from the daemon: {item.error}"
    assert reply.head["req_no"] == item.req_no
    if reply.code == "0000":
        assert reply.head["ans_code"] == "0"
        expected = {"stat": "1"} if item.tr_code == "210201" else {"tranStatus": "34"}
        assert reply.body == expected, reply
        return "ok"
    if reply.code == "D008":
        assert reply.head["ans_code"] == "2", reply
        expected = {"stat": "3"} if item.tr_code == "210201" else {"tranStatus": "20"}
        assert reply.body == expected, reply
        return "unknown"
    assert reply.code == "D007", f"{item.tr_code} {item.req_no}: {reply}"
    assert reply.head["ans_code"] == "1", reply
    assert reply.body == {}, reply
    return "not_sent"


def test_core_killed_with_transfers_in_flight(procs: Processes) -> None:
    erp = procs.erp()
    payer_before, payee_before = erp.balance(ACNO_1), erp.balance(ACNO_2)
    load = Load(erp, threads=12)
    load.start()
    time.sleep(0.7)
    # Freeze the core so that the requests sent from now on stay unanswered,
    # then kill it: their outcome is unknown to the daemon.
    procs.core.proc.send_signal(signal.SIGSTOP)
    time.sleep(0.5)
    procs.core.proc.kill()
    procs.core.proc.wait(10)
    time.sleep(1.0)  # requests keep coming while the core is down
    load.stop()

    # Down and known to be down: a new request is not sent (D007), or unknown.
    down = Sent(unique_req_no("DOWN"), "210201", transfer_body("9.00"), Decimal("9.00"))
    load.send(down)
    assert check_reply(down) in ("not_sent", "unknown")

    outcomes = {item.req_no: check_reply(item) for item in load.sent}
    kinds = set(outcomes.values())
    assert "ok" in kinds and "unknown" in kinds, kinds
    assert "not_sent" in kinds, kinds

    # Restart the core on the same port; the daemon reconnects by itself.
    procs.start_core()
    assert wait_until_answered(erp, timeout=10) < 10

    # 310204 resolves every request; no failures, and D007 means never executed.
    final: dict[str, str] = {}
    for item in load.sent:
        status = erp.wait_status(item.req_no, home=procs.home)
        stat = status.body["stat"]
        final[item.req_no] = stat
        if outcomes[item.req_no] == "ok":
            assert stat == SUCCESS, status
        elif outcomes[item.req_no] == "unknown":
            assert stat in (SUCCESS, NO_SUCH_RECORD), status
        else:
            assert stat == NO_SUCH_RECORD, status
        if stat == SUCCESS:
            assert Decimal(status.body["amt"]) == item.amt

    # The money moved exactly for the requests that executed.
    executed = [item for item in load.sent if final[item.req_no] == SUCCESS]
    assert erp.balance(ACNO_1) == payer_before - sum(i.amt for i in executed)
    assert erp.balance(ACNO_2) == payee_before + sum(
        i.amt for i in executed if i.tr_code == "210201")

    # A request that never executed may be sent again with the same req_no.
    retried = [item for item in load.sent if final[item.req_no] == NO_SUCH_RECORD][:5]
    assert retried
    payer = erp.balance(ACNO_1)
    for item in retried:
        reply = erp.send(item.tr_code, item.body, req_no=item.req_no)
        assert reply.ok, reply
        assert erp.wait_status(item.req_no, home=procs.home).body["stat"] == SUCCESS
    assert erp.balance(ACNO_1) == payer - sum(i.amt for i in retried)
    # ...and executes once: the same request again is only answered.
    again = erp.send(retried[0].tr_code, retried[0].body, req_no=retried[0].req_no)
    assert again.ok
    assert erp.balance(ACNO_1) == payer - sum(i.amt for i in retried)


def test_daemon_restart_keeps_exactly_once(procs: Processes) -> None:
    erp = procs.erp()
    req_no = unique_req_no()
    original = erp.send("210201", transfer_body("3.00"), req_no=req_no)
    assert original.ok, original
    payer = erp.balance(ACNO_1)
    assert procs.daemon.stop(signal.SIGTERM) == 0
    procs.daemon = start_process(
        ["daemon", "serve", "--home", str(procs.home), "--core-port", str(procs.core_port),
         "--erp-port", "0", "--http-port", "0"], procs.home, log_name="daemon")
    erp = procs.erp()
    wait_until_answered(erp, timeout=15)
    retry = erp.send("210201", transfer_body("3.00"), req_no=req_no)
    assert retry.ok and retry.head["serial_no"] == original.head["serial_no"], retry
    assert erp.balance(ACNO_1) == payer


def test_ledger_check_passes_after_the_crash(procs: Processes) -> None:
    result = cli("core", "check", "--home", str(procs.home), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert procs.core.stop(signal.SIGTERM) == 0
    result = cli("core", "check", "--home", str(procs.home), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
