"""How long the pytest plugin takes to give a test a fresh bank and daemon.

Run by hand (not a test)::

    .venv/bin/python bench/plugin_startup.py [--runs N] [--mode parallel,sequential]

Each run starts a fresh pair through :mod:`directlink.testing.harness`, exactly
as the ``directlink_bank`` + ``directlink_client`` fixtures do (a new
temporary home, the demo seed, every port 0), and times:

* **bank READY** — from the call until ``directlink core serve`` prints READY;
* **pair READY** — until the daemon prints READY too: what a test waits for
  before its body runs;
* **first reply** — until a first 310101 has been answered (the daemon's link
  to the bank is made on that first request, if it is not up yet);
* **teardown** — stopping both (SIGTERM) and checking the ledger, as the
  fixtures do at teardown.

Modes: ``parallel`` (the fixtures' way: the daemon's process imports while the
bank starts) and ``sequential`` (the daemon's process is started once the
bank is READY). Runs of the modes alternate. Also reported: the CPU seconds
the pair's processes used per start (user + system of the reaped children,
load-independent), the machine's other CPU use during the runs (other
processes on a shared machine slow every figure), and, once, the cost of the
pieces: a bare Python start, importing each command group, the ledger child's
imports.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_model, machine_cpu, quantile

from directlink.testing import harness

ACNO = "310066726018010000001"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(root: Path, mode: str) -> dict[str, float]:
    cpu0 = children_cpu()
    start = time.perf_counter()
    bank = harness.start_bank(root, prewarm_client=(mode == "parallel"))
    bank_ready = time.perf_counter()
    try:
        client = harness.start_client(bank)
    except BaseException:
        bank.stop()
        raise
    pair_ready = time.perf_counter()
    reply = client.erp().balance(ACNO)
    first_reply = time.perf_counter()
    if not reply.ok:
        raise SystemExit(f"310101 failed: {reply}")
    client.stop()
    bank.stop()
    ok = bank.check().ok
    done = time.perf_counter()
    if not ok:
        raise SystemExit("core check failed")
    return {"bank READY": bank_ready - start, "pair READY": pair_ready - start,
            "first reply": first_reply - start, "teardown": done - first_reply,
            "cpu": children_cpu() - cpu0}


def timed(command: list[str], repeat: int = 5) -> float:
    """Median wall seconds of a command run to completion."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pieces() -> list[tuple[str, float]]:
    python = sys.executable
    return [
        ("python -c pass", timed([python, "-c", "pass"])),
        ("import directlink.cli (the whole CLI)", timed([python, "-c", "import directlink.cli"])),
        ("import directlink.commands.core (bank)",
         timed([python, "-c", "import directlink.commands.core"])),
        ("import directlink.commands.daemon (daemon)",
         timed([python, "-c", "import directlink.commands.daemon"])),
        ("import core_sim.bank_process (ledger child)",
         timed([python, "-c", "import core_sim.bank_process"])),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="starts per mode [20]")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured starts first [2]")
    parser.add_argument("--mode", default="parallel,sequential",
                        help="comma-separated: parallel, sequential [both]")
    parser.add_argument("--no-pieces", action="store_true",
                        help="skip timing the pieces (Python start, imports)")
    args = parser.parse_args()
    modes = [m for m in args.mode.split(",") if m]
    for mode in modes:
        if mode not in ("parallel", "sequential"):
            parser.error(f"unknown mode {mode!r}")

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu_model()}, "
          f"nproc {os.cpu_count()}, Linux {platform.release()}; "
          f"CPython {platform.python_version()}")
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    busy0, _ = machine_cpu()
    wall0 = time.perf_counter()
    ours = 0.0
    with tempfile.TemporaryDirectory(prefix="plugin-startup-") as tmp:
        n = 0
        for i in range(args.warmup + args.runs):
            for mode in modes:
                n += 1
                run = one_run(Path(tmp) / f"run{n}", mode)
                ours += run["cpu"]
                if i >= args.warmup:
                    results[mode].append(run)
    wall = time.perf_counter() - wall0
    busy, _ = machine_cpu()
    other = max(busy - busy0 - ours, 0.0) / wall
    print(f"{args.runs} fresh starts per mode (after {args.warmup} warm-up), demo seed; "
          f"other processes used {other:.2f} CPUs on average during the runs")
    print()
    print(f"{'mode':<11} {'step':<12} {'median s':>9} {'p90 s':>7} {'min s':>7} {'max s':>7}")
    for mode in modes:
        for step in ("bank READY", "pair READY", "first reply", "teardown", "cpu"):
            values = sorted(run[step] for run in results[mode])
            label = "CPU s" if step == "cpu" else step
            print(f"{mode:<11} {label:<12} {statistics.median(values):>9.3f} "
                  f"{quantile(values, 0.9):>7.3f} {values[0]:>7.3f} {values[-1]:>7.3f}")
    if not args.no_pieces:
        print()
        print("pieces (median of 5, wall s):")
        for name, seconds in pieces():
            print(f"  {name:<46} {seconds:.3f}")


if __name__ == "__main__":
    main()
