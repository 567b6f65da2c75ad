"""Throughput and latency of the bank core alone, against the disk's raw commit rate.

Run by hand (not a test)::

    .venv/bin/python bench/core_bench.py [--seconds N] [--warmup N]
        [--concurrency 1,16,64] [--load-procs N] [--connections N] [--profile DIR]

**The core.** One process runs the core exactly as ``directlink core serve``
builds it (``open_bank`` on a fresh home with the demo seed, ``core_server``,
the same logging to ``core/core.log``; certflag=1 only; clearing on demand
only): the ledger runs in its own child process (``BankProcess``) on SQLite in
WAL mode with ``synchronous=FULL``, and replies leave after the group commit
that holds them. The server runs in its own process, started with
multiprocessing rather than through the CLI only so that it can report its
group-commit count (``CoreServer.batches``); its CPU time is that of the
server and its ledger process together (the ledger's share is shown too).

**The load.** Load processes, separate from the core, speak the wire protocol
themselves (the protocol's ClientSession in a plain ``selectors`` loop, every
request signed and encrypted and every reply verified):
C requests in flight in total, for C in --concurrency, multiplexed over a few
connections (--connections, at most C) spread over up to --load-procs
processes. Each in-flight slot runs a closed loop of 210201 same-bank transfers
of 0.01 yuan from 310066726018010000001 to 310066726018010000002, each with a
new req_no. A request counts if it started after the warm-up and finished
inside the measured window; any reply but 0000 is an error. The CPU time of
the core and of every load process over the window is measured (as a fraction
of one CPU: 100 % = one core busy), so it shows which side is the bottleneck,
and so is the whole machine's (``/proc/stat``): CPU that neither used is
reported as "other CPU" (other processes; a warning above 10 %). Afterwards
the payer's balance must have dropped by exactly 0.01 per acknowledged
transfer and ``directlink core check`` must pass.

**The disk and the ledger.** In the same run, in the same directory: a loop
of tiny ``BEGIN; INSERT; COMMIT`` transactions with WAL and
``synchronous=FULL`` (the commits per second this disk allows one writer), and
the same with as many INSERTs per commit as the core's average batch at each
concurrency; and, for the same batch sizes, ``Bank.execute_batch`` called
directly on a fresh ledger with the same transfers (the ledger alone: no
protocol, no trio, no sockets). Last, the same load against the core with
its ledger replaced by a stub that answers every transfer at once (no SQL, no
fsync): what the protocol, trio and the sockets cost alone.

With ``--profile DIR`` the core is profiled at the highest concurrency, with
``--profiler py-spy`` (the default; ``py-spy`` must be on PATH; every thread,
non-blocking sampling; its idle filter lets some waits through, such as the
worker thread waiting for work or for COMMIT's fsync) or ``--profiler
cprofile`` (deterministic, the trio thread only, and much slower). The top
entries are printed. Figures from a profiled run are not the benchmark's
figures.

Prints the machine, a markdown table and the target's verdict.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import multiprocessing as mp
import os
import platform
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench._common import cpu_seconds, machine_cpu, quantile, split, wait_window  # noqa: E402
from tests.core_client import (  # noqa: E402
    ACNO_1,
    ACNO_2,
    balance,
    open_client,
    transfer_fields,
)
from tests.erp_client import cli  # noqa: E402

AMOUNT = 1  # fen
TARGET_RATE_AT_16 = 3000.0

# -- the core's process -----------------------------------------------------------------


class StubBank:
    """The bank without its ledger: every request is a completed transfer at once.

    No SQL, no fsync and no ledger process: it answers on the server's own event
    loop, so the core's remaining cost is the protocol, trio and the sockets —
    the floor the ledger's cost adds to.
    """

    def __init__(self) -> None:
        self.commits = 0
        self.pid = None
        self._serial = 0

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def has_operator(self, corp_no: str, user_no: str) -> bool:
        return True

    async def execute_batch(self, requests):
        from core_sim.transaction import Reply

        self.commits += 1
        replies = []
        for _ in requests:
            self._serial += 1
            replies.append(Reply("0000", "transfer completed", f"S{self._serial:015d}",
                                 {"stat": "1"}))
        return replies


def core_process(home: str, control, profile_path: str | None, stub: bool) -> None:
    """Serve the core as `directlink core serve` does; answer 'stats' and 'stop' on control.

    The ledger runs in its own process (``BankProcess``), as under ``core serve``;
    with ``stub``, :class:`StubBank` stands in for it.
    """
    import trio

    from core_sim.bank_process import BankProcess
    from core_sim.home import CoreHome
    from directlink.commands.core import core_server, open_bank
    from directlink.runtime import setup_logging

    core_home = CoreHome(Path(home))
    open_bank(core_home, None)[0].close()
    setup_logging({"directlink": core_home.log})
    served = StubBank() if stub else BankProcess(core_home.ledger, log_file=core_home.log)
    server = core_server(core_home, served, allow_plaintext=False, clearing_interval=0)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            address = await nursery.start(server.serve, "127.0.0.1", 0)
            control.send((address, served.pid))
            while True:
                message = await trio.to_thread.run_sync(control.recv)
                if message == "stats":
                    control.send({"batches": server.batches, "commits": served.commits})
                elif message == "stop":
                    await server.drain()
                    nursery.cancel_scope.cancel()
                    return

    profiler = cProfile.Profile() if profile_path else None
    try:
        if profiler:
            profiler.enable()
        trio.run(main)
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile_path)
        control.send("stopped")


class Core:
    """The core's process and its control pipe."""

    def __init__(self, ctx, home: Path, profile_path: Path | None = None, *,
                 stub: bool = False) -> None:
        self.control, child = ctx.Pipe()
        self.proc = ctx.Process(target=core_process,
                                args=(str(home), child, profile_path and str(profile_path),
                                      stub))
        self.proc.start()
        if not self.control.poll(120):
            raise RuntimeError("the core did not start")
        address, self.ledger_pid = self.control.recv()
        self.address = tuple(address)

    def stats(self) -> dict:
        """Group commits so far, and CPU seconds of the server and of its ledger process."""
        self.control.send("stats")
        stats = self.control.recv()
        total = cpu_seconds(self.proc.pid)
        ledger = cpu_seconds(self.ledger_pid) if self.ledger_pid else 0.0
        return {**stats, "cpu": total, "ledger_cpu": ledger}

    def stop(self) -> None:
        self.control.send("stop")
        self.control.poll(60) and self.control.recv()
        self.proc.join(60)


# -- load processes ---------------------------------------------------------------------


def load_process(address, home: str, seed: bytes, connections: list[int], prefix: str,
                 go, times, results) -> None:
    """``connections[i]`` requests in flight on connection i, closed loop, one process.

    A plain ``selectors`` loop around the protocol's ClientSession (every request
    signed and encrypted, every reply verified and decrypted): the load should
    cost the machine as little as the protocol allows, so that the CPU goes to
    the core being measured. Each reply is answered with the next request on
    its slot; what one pass over the readable connections produced leaves in
    one write per connection.
    """
    import selectors
    import socket

    from protocol.events import NEED_DATA, Response, SessionEstablished
    from protocol.events import Request as WireRequest
    from protocol.keys import SigningKey
    from protocol.session import ClientSession
    from tests.core_client import CORP_NO, USER_NO, bank_public_keys

    key = SigningKey.from_seed(seed)
    bank = bank_public_keys(Path(home))
    fields = transfer_fields(AMOUNT, summary="bench")
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0, "cpu": 0.0}
    samples: list[str] = []

    selector = selectors.DefaultSelector()
    sessions: list[tuple[socket.socket, ClientSession]] = []
    for _ in connections:
        sock = socket.create_connection(address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = ClientSession(corp_no=CORP_NO, user_no=USER_NO, signing_key=key,
                                bank_keys=bank)
        session.start()
        sock.sendall(session.data_to_send())
        while (event := session.next_event()) is NEED_DATA:
            session.receive_data(sock.recv(65536))
        assert isinstance(event, SessionEstablished), event
        sessions.append((sock, session))

    start, end = wait_window(go, times)
    clock, mono = time.perf_counter, time.monotonic
    sent: dict[str, float] = {}  # req_no -> perf_counter at sending
    numbers = iter(range(1, 1 << 62))

    def send_next(session: ClientSession, index: int) -> None:
        req_no = f"{prefix}{index:02d}R{next(numbers):010d}"
        session.send(WireRequest(tr_code="210201", req_no=req_no, fields=fields))
        sent[req_no] = clock()

    for index, ((sock, session), in_flight) in enumerate(zip(sessions, connections,
                                                            strict=True)):
        for _ in range(in_flight):
            send_next(session, index)
        sock.sendall(session.data_to_send())
        selector.register(sock, selectors.EVENT_READ, (index, session))

    cpu = None
    while sent:
        if cpu is None and mono() >= start:
            cpu = time.process_time()
        for selected, _ in selector.select(timeout=1.0):
            index, session = selected.data
            data = selected.fileobj.recv(65536)
            if not data:
                raise RuntimeError("the core closed a connection")
            session.receive_data(data)
            while (event := session.next_event()) is not NEED_DATA:
                done = clock()
                elapsed = done - sent.pop(event.req_no)
                if isinstance(event, Response) and event.ok:
                    counts["ok"] += 1
                else:
                    counts["errors"] += 1
                    if len(samples) < 3:
                        samples.append(repr(event))
                now = mono()
                began = now - elapsed
                if began >= start and now <= end:
                    latencies.append(elapsed)
                if now < end:
                    send_next(session, index)
            out = session.data_to_send()
            if out:
                selected.fileobj.sendall(out)
        if cpu is not None and counts["cpu"] == 0.0 and mono() >= end:
            counts["cpu"] = time.process_time() - cpu
    for sock, _ in sessions:
        sock.close()
    results.put({"latencies": latencies, **counts, "samples": samples})


def plan(concurrency: int, connections: int, procs: int) -> list[list[int]]:
    """In-flight requests per connection, connections grouped per process."""
    conns = split(concurrency, min(connections, concurrency))
    groups = split(len(conns), min(procs, len(conns)))
    out, i = [], 0
    for size in groups:
        out.append(conns[i:i + size])
        i += size
    return out


def measure(ctx, core: Core, home: Path, seed: bytes, concurrency: int, connections: int,
            procs: int, warmup: float, seconds: float) -> dict:
    go, times, results = ctx.Event(), ctx.Array("d", 2), ctx.Queue()
    layout = plan(concurrency, connections, procs)
    workers = [ctx.Process(target=load_process,
                           args=(core.address, str(home), seed, conns, f"C{concurrency}P{p}",
                                 go, times, results))
               for p, conns in enumerate(layout)]
    for proc in workers:
        proc.start()
    time.sleep(1.5)  # imports, connections and handshakes
    now = time.monotonic()
    times[0], times[1] = now + warmup, now + warmup + seconds
    go.set()
    time.sleep(max(0.0, times[0] - time.monotonic()))
    before, machine_before = core.stats(), machine_cpu()
    time.sleep(max(0.0, times[1] - time.monotonic()))
    after, machine_after = core.stats(), machine_cpu()
    merged = {"latencies": [], "ok": 0, "errors": 0, "samples": [], "load_cpu": []}
    for _ in workers:
        part = results.get(timeout=warmup + seconds + 300)
        merged["latencies"] += part["latencies"]
        merged["ok"] += part["ok"]
        merged["errors"] += part["errors"]
        merged["samples"] += part["samples"]
        merged["load_cpu"].append(part["cpu"] / seconds)
    for proc in workers:
        proc.join(30)
    latencies = sorted(merged["latencies"])
    n = len(latencies)
    batches = after["batches"] - before["batches"]
    core_cpu = (after["cpu"] - before["cpu"]) / seconds
    ledger_cpu = (after["ledger_cpu"] - before["ledger_cpu"]) / seconds
    busy = (machine_after[0] - machine_before[0]) / seconds
    merged.update(
        # CPU (in cores) that neither the core nor the load used: other processes.
        other_cpu=max(0.0, busy - core_cpu - sum(merged["load_cpu"])),
        steal=(machine_after[1] - machine_before[1]) / seconds,
        rate=n / seconds, n=n, p50=quantile(latencies, 0.50) * 1000,
        p99=quantile(latencies, 0.99) * 1000, batches=batches,
        batch=(n / batches) if batches else float("nan"),
        core_cpu=core_cpu,
        ledger_cpu=ledger_cpu,
        layout=layout,
    )
    return merged


# -- the disk ---------------------------------------------------------------------------


def sqlite_commit_rate(directory: Path, batch: int, seconds: float) -> tuple[float, float]:
    """(commits/s, rows/s) of BEGIN; ``batch`` x INSERT; COMMIT with WAL + synchronous=FULL."""
    path = directory / f"raw-{batch}.db"
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        commits, value = 0, "x" * 64
        started = time.perf_counter()
        end = started + seconds
        while time.perf_counter() < end:
            conn.execute("BEGIN IMMEDIATE")
            for _ in range(batch):
                conn.execute("INSERT INTO t (v) VALUES (?)", (value,))
            conn.execute("COMMIT")
            commits += 1
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
    return commits / elapsed, commits * batch / elapsed


def ledger_rate(directory: Path, batch: int, seconds: float) -> tuple[float, float]:
    """(transfers/s, CPU s per transfer) of Bank.execute_batch alone: no protocol, no trio.

    The same transfers as the load sends, ``batch`` per call (one COMMIT each), on a
    fresh demo-seed ledger opened as the core opens it (WAL, synchronous=FULL).
    """
    from config.seed import DEMO_SEED, parse_seed
    from core_sim.bank import Bank, Request

    path = directory / f"ledger-{batch}.db"
    bank = Bank.open(path, seed=parse_seed(DEMO_SEED, "<demo seed>"))
    fields = transfer_fields(AMOUNT, summary="bench")
    n = 0
    try:
        def one_batch() -> None:
            nonlocal n
            requests = []
            for _ in range(batch):
                n += 1
                requests.append(Request("0000000001", "001", "210201", f"L{n:010d}", fields))
            replies = bank.execute_batch(requests)
            assert all(reply.ok for reply in replies), replies

        one_batch()  # warm the statement cache
        done = 0
        cpu = time.process_time()
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            one_batch()
            done += batch
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        bank.close()
    return done / elapsed, cpu / done


# -- profiling --------------------------------------------------------------------------


def top_functions(profile_path: Path, limit: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(profile_path), stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def py_spy(pid: int, seconds: float, output: Path) -> subprocess.Popen | None:
    exe = shutil.which("py-spy")
    if exe is None:
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                             "--rate", "250", "--format", "raw", "--threads", "--nonblocking",
                             "--subprocesses",
                             "--output", str(output)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarize_raw(path: Path, limit: int = 30) -> str:
    """Share of the samples per thread, per function (self) and per caller (total)."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    threads: dict[str, int] = {}
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        threads[frames[0]] = threads.get(frames[0], 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames[1:]):
            name = frame.rsplit(" (", 1)[0] + " (" + frame.rsplit(" (", 1)[-1].split(":")[0] + ")"
            total[name] = total.get(name, 0) + n
    out = [f"py-spy: {samples} samples (all threads)", "", "| thread | % |",
           "|---|---:|"]
    out += [f"| {name} | {100 * n / samples:.1f} |"
            for name, n in sorted(threads.items(), key=lambda kv: -kv[1])]
    out += ["", "| self % | function (file:line) |", "|---:|---|"]
    out += [f"| {100 * n / samples:.1f} | {name} |"
            for name, n in sorted(own.items(), key=lambda kv: -kv[1])[:limit]]
    out += ["", "| total % | function (file) |", "|---:|---|"]
    out += [f"| {100 * n / samples:.1f} | {name} |"
            for name, n in sorted(total.items(), key=lambda kv: -kv[1])[:limit * 2]]
    return "\n".join(out)


# -- main -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up before it")
    parser.add_argument("--concurrency", default="1,16,64",
                        help="comma-separated numbers of requests in flight")
    parser.add_argument("--load-procs", type=int, default=2,
                        help="load processes (connections are spread over them)")
    parser.add_argument("--connections", type=int, default=4,
                        help="connections the requests in flight are multiplexed over")
    parser.add_argument("--sqlite-seconds", type=float, default=5.0,
                        help="duration of each raw SQLite commit loop")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="directory for the core's home and the raw SQLite file "
                             "[default: a new temporary directory]")
    parser.add_argument("--no-stub", action="store_true",
                        help="skip the runs against the core with a stub ledger")
    parser.add_argument("--profile", type=Path, default=None,
                        help="profile the core into this directory (slows it down)")
    parser.add_argument("--profiler", choices=("py-spy", "cprofile"), default="py-spy",
                        help="how to profile with --profile [default: py-spy]")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    ctx = mp.get_context("spawn")

    import cryptography

    print(f"machine: {platform.node()}, nproc {os.cpu_count()}, {platform.machine()}, "
          f"Linux {platform.release()}; Python {platform.python_version()}, SQLite "
          f"{sqlite3.sqlite_version}, cryptography {cryptography.__version__}; "
          f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"load average before the run: {os.getloadavg()[0]:.2f} (1 min); see 'other CPU' "
          "for other processes during each window")
    print(f"window {args.seconds:g} s after {args.warmup:g} s warm-up; up to "
          f"{args.load_procs} load processes, {args.connections} connections", flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="directlink-core-bench-", dir=args.workdir))
    home = workdir / "home"
    print(f"working directory: {workdir}")
    seed = os.urandom(32)
    results: dict[int, dict] = {}
    stub: dict[int, dict] = {}
    profile_path = None
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        if args.profiler == "cprofile":
            profile_path = args.profile / "core.pstats"
        elif shutil.which("py-spy") is None:
            parser.error("--profiler py-spy needs py-spy on PATH (pip install py-spy)")
    try:
        from protocol.keys import SigningKey

        # `core init` creates the bank (demo seed, bank keys); `core enroll` enrolls the key.
        key = SigningKey.from_seed(seed)
        pem = workdir / "client.pub.pem"
        pem.write_bytes(key.public.to_pem())
        cli("core", "init", "--home", str(home))
        cli("core", "enroll", "--home", str(home), "--corp-no", "0000000001",
            "--user-no", "001", str(pem))
        core = Core(ctx, home, profile_path)
        print(f"core: pid {core.proc.pid}, listening on {core.address[0]}:{core.address[1]}",
              flush=True)
        try:
            payer_before = _balance(core.address, home, seed, ACNO_1)
            payee_before = _balance(core.address, home, seed, ACNO_2)
            ok_total = 0
            for c in levels:
                spy = None
                if args.profile and args.profiler == "py-spy" and c == max(levels):
                    spy = py_spy(core.proc.pid, args.warmup + args.seconds,
                                 args.profile / "py-spy.txt")
                results[c] = r = measure(ctx, core, home, seed, c, args.connections,
                                         args.load_procs, args.warmup, args.seconds)
                if spy is not None:
                    spy.wait(60)
                ok_total += r["ok"]
                _report(c, r)
            payer = _balance(core.address, home, seed, ACNO_1)
            payee = _balance(core.address, home, seed, ACNO_2)
        finally:
            core.stop()
        moved = payer_before - payer
        assert moved == ok_total * AMOUNT, (moved, ok_total)
        assert payee - payee_before == moved, (payee, payee_before, moved)
        print(f"ledger: {ok_total} transfers of 0.01 moved exactly {moved / 100:.2f}")
        check = cli("core", "check", "--home", str(home), check=False)
        print(f"core check: exit {check.returncode}: "
              f"{check.stdout.strip().splitlines()[-1]}", flush=True)

        raw = {1: sqlite_commit_rate(workdir, 1, args.sqlite_seconds)}
        ledger = {1: ledger_rate(workdir, 1, args.sqlite_seconds)}
        for c in levels:
            size = max(1, round(results[c]["batch"]))
            if size not in raw:
                raw[size] = sqlite_commit_rate(workdir, size, args.sqlite_seconds)
                ledger[size] = ledger_rate(workdir, size, args.sqlite_seconds)

        if not args.no_stub:
            print("the same load against the core with a stub ledger (no SQL, no fsync):",
                  flush=True)
            core = Core(ctx, home, stub=True)
            try:
                for c in levels:
                    stub[c] = r = measure(ctx, core, home, seed, c, args.connections,
                                          args.load_procs, args.warmup, args.seconds)
                    _report(c, r)
            finally:
                core.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print("| in flight | transfers/s | p50 ms | p99 ms | errors | transfers per commit "
          "| core CPU | core CPU µs per transfer | load CPU | other CPU "
          "| raw SQLite commits/s at that batch | transfers/s ÷ raw rows/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in levels:
        r = results[c]
        size = max(1, round(r["batch"]))
        commits, rows = raw[size]
        print(f"| {c} | {r['rate']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} "
              f"| {r['batch']:.1f} | {r['core_cpu']:.0%} | {_per_transfer(r):.0f} "
              f"| {' + '.join(f'{x:.0%}' for x in r['load_cpu'])} | {r['other_cpu']:.0%} "
              f"| {commits:,.0f} (batch {size}) | {r['rate'] / rows:.2f} |")
    if stub:
        print()
        print("| in flight | stub ledger: transfers/s | p50 ms | p99 ms | per commit "
              "| core CPU | core CPU µs per transfer | other CPU | core ÷ stub |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in levels:
            r = stub[c]
            print(f"| {c} | {r['rate']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} "
                  f"| {r['batch']:.1f} | {r['core_cpu']:.0%} | {_per_transfer(r):.0f} "
                  f"| {r['other_cpu']:.0%} | {results[c]['rate'] / r['rate']:.2f} |")
    print()
    print("| per COMMIT | raw SQLite commits/s | raw SQLite rows/s "
          "| ledger alone transfers/s | ledger alone CPU µs per transfer |")
    print("|---:|---:|---:|---:|---:|")
    for size, (commits, rows) in sorted(raw.items()):
        transfers, cpu = ledger[size]
        print(f"| {size} | {commits:,.0f} | {rows:,.0f} | {transfers:,.0f} | {cpu * 1e6:.0f} |")
    if 16 in results:
        met = results[16]["rate"] >= TARGET_RATE_AT_16
        print(f"\ntarget >= {TARGET_RATE_AT_16:,.0f} transfers/s at 16 in flight: "
              f"{'met' if met else 'MISSED'} ({results[16]['rate']:,.0f}/s)")
    if profile_path and profile_path.exists():
        print("\ncProfile of the core's trio thread (tottime):")
        print(top_functions(profile_path))
    if args.profile and (args.profile / "py-spy.txt").exists():
        print()
        print(summarize_raw(args.profile / "py-spy.txt"))
    if any(r["errors"] for r in (*results.values(), *stub.values())):
        samples = [s for r in (*results.values(), *stub.values()) for s in r["samples"]][:3]
        print("ERRORS; first replies:", *samples, sep="\n")
        sys.exit(1)


def _report(c: int, r: dict) -> None:
    print(f"C={c:<3} {r['rate']:8,.0f}/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
          f"n={r['n']}  errors={r['errors']}  batch {r['batch']:.1f}  core CPU "
          f"{r['core_cpu']:.0%} ({_per_transfer(r):.0f} µs/transfer; ledger process "
          f"{r['ledger_cpu']:.0%})  load CPU "
          f"{' + '.join(f'{x:.0%}' for x in r['load_cpu'])}  other CPU {r['other_cpu']:.0%}  "
          f"steal {r['steal']:.0%}  layout {r['layout']}", flush=True)
    if r["other_cpu"] > 0.1:
        print(f"  WARNING: other processes used {r['other_cpu']:.0%} of a CPU during this "
              "window; figures are disturbed", flush=True)


def _per_transfer(r: dict) -> float:
    """The core's CPU time per transfer, µs."""
    return r["core_cpu"] * 1e6 / r["rate"] if r["rate"] else float("nan")


def _balance(address, home: Path, seed: bytes, acno: str) -> int:
    import trio

    from protocol.keys import SigningKey
    from tests.core_client import bank_public_keys

    async def query() -> int:
        async with open_client(address, signing_key=SigningKey.from_seed(seed),
                               bank_keys=bank_public_keys(home)) as client:
            return await balance(client, acno)

    return trio.run(query)


if __name__ == "__main__":
    main()
