"""What an enterprise's controls cost the bank: batch items and transfers, with and without.

Run by hand (not a test)::

    .venv/bin/python bench/controls_bench.py [--items N] [--transfers N] [--rounds N]

In process, on a fresh ledger per measurement (SQLite in WAL mode with
``synchronous=FULL``, as the core runs it), no protocol and no sockets, so
what differs between the variants is the bank's own work:

* **batch payment items** — a 330002 file batch of ``--items`` items of 12.34
  to personal accounts here, executed by ``Bank.run_batches`` in its chunks of
  5,000; items per second over the whole run;
* **transfers** — ``--transfers`` same-bank 210201 transfers of 0.01 in calls
  of 8 (the core's typical group commit at 16 in flight); µs per transfer.

Each in four variants of the same enterprise: ``none`` (no controls),
``limits`` (all six limits set, none reached), ``directed`` (the paying
account directed, with every payee listed: a list as long as the batch), and
``all`` (both). The variants run in turn, ``--rounds`` times, so a noisy
machine slows them alike; the report gives each variant's best and median
and its ratio to ``none`` in the same run. Every variant, ``none`` included,
looks up the paying account's approval flow and writes its audit rows: that
cost is in all of them (``bench/core_bench.py`` compares against the code
before controls). Instructions that wait for approval are decided one at a
time by people, so their throughput is not measured.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import cpu_model
from config.seed import Account, BankInfo, Enterprise, Limits, Seed
from config.seed.model import Directed, PersonalAccount, PersonalLimits
from core_sim.bank import Bank, Request
from core_sim.check import check_ledger
from protocol.bodies import SEGMENT_ITEMS

BANK_NO, CORP = "301290000007", "0000000001"
A1, A2 = "310066726018010000001", "310066726018010000002"
VARIANTS = ("none", "limits", "directed", "all")
NOW = datetime(2026, 11, 24, 10, 0)
BIG = 10**13  # a limit no run reaches


def card(i: int) -> str:
    return f"6222600{i:012d}"


def make_seed(variant: str, cards: list[str]) -> Seed:
    limits, directed = Limits(), ()
    if variant in ("limits", "all"):
        limits = Limits(single=BIG, daily=BIG, monthly=BIG,
                        to_personal=PersonalLimits(single=BIG, daily=BIG, monthly=BIG))
    if variant in ("directed", "all"):
        directed = (Directed(A1, (*cards, A2)),)
    return Seed(
        bank=BankInfo("Simulated Bank", BANK_NO, date(2026, 11, 24)),
        enterprises=(Enterprise(CORP, "Demo Co.", ("001",),
                                (Account(A1, "Demo Co.", balance=10**12),
                                 Account(A2, "Demo Co.", balance=0)),
                                limits=limits, directed=directed),),
        personal_accounts=tuple(PersonalAccount(c, f"客户{i}", "110101199003070011")
                                for i, c in enumerate(cards)),
    )


def batch_run(variant: str, items: int) -> float:
    """Items per second executing one 330002 batch of ``items`` items."""
    cards = [card(i) for i in range(items)]
    with tempfile.TemporaryDirectory() as tmp:
        bank = Bank.open(Path(tmp) / "core.db", seed=make_seed(variant, cards), clock=lambda: NOW)
        rows = [{"card_no": c, "acname": f"客户{i}", "card_flag": "0", "amt": 1234,
                 "busino": f"b{i}"} for i, c in enumerate(cards)]
        segments = [rows[i:i + SEGMENT_ITEMS] for i in range(0, items, SEGMENT_ITEMS)]
        for n, segment in enumerate(segments, start=1):
            reply = bank.execute(Request(CORP, "001", "330002", "B1", {
                "cert_no": "P1", "pay_acno": A1, "type": "S", "sum": items,
                "sum_amt": 1234 * items, "pay_month": "202611", "summary": "工资",
                "busi_no": "PR01", "mailflg": "N", "file_flag": "1", "items": segment},
                frag_no=n, more=n < len(segments)))
            assert reply.ok, reply
        start = time.perf_counter()
        while not bank.run_batches().finished:
            pass
        took = time.perf_counter() - start
        ok = bank.connection.execute("SELECT ok_count FROM batches").fetchone()[0]
        bank.close()
        assert ok == items, f"{variant}: {ok} of {items} items succeeded"
        assert check_ledger(Path(tmp) / "core.db").ok
    return items / took


def transfers_run(variant: str, count: int) -> float:
    """µs per same-bank transfer, ``count`` of them in calls of 8."""
    with tempfile.TemporaryDirectory() as tmp:
        bank = Bank.open(Path(tmp) / "core.db", seed=make_seed(variant, []), clock=lambda: NOW)
        requests = [Request(CORP, "001", "210201", f"T{i}", {
            "pay_acno": A1, "rcv_acno": A2, "amt": 1, "bank_flag": "0"}) for i in range(count)]
        start = time.perf_counter()
        for i in range(0, count, 8):
            replies = bank.execute_batch(requests[i:i + 8])
            assert all(r.ok for r in replies), replies
        took = time.perf_counter() - start
        bank.close()
    return took / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--transfers", type=int, default=8_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    print(f"# controls bench: {cpu_model()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    items: dict[str, list[float]] = {v: [] for v in VARIANTS}
    transfers: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for n in range(options.rounds):
        for variant in VARIANTS:
            items[variant].append(batch_run(variant, options.items))
            transfers[variant].append(transfers_run(variant, options.transfers))
        print(f"round {n + 1}: items/s " + ", ".join(
            f"{v} {items[v][-1]:,.0f}" for v in VARIANTS) + "; µs/transfer "
            + ", ".join(f"{v} {transfers[v][-1]:.0f}" for v in VARIANTS), flush=True)
    print()
    print(f"| variant | batch items/s (best, median of {options.rounds}) | ÷ none "
          f"| µs per transfer (best, median) | ÷ none |")
    print("|---|---:|---:|---:|---:|")
    base_items = statistics.median(items["none"])
    base_transfers = statistics.median(transfers["none"])
    for variant in VARIANTS:
        rate = (f"{max(items[variant]):,.0f}, {statistics.median(items[variant]):,.0f}",
                f"{statistics.median(items[variant]) / base_items:.2f}")
        cost = statistics.median(transfers[variant])
        print(f"| {variant} | {rate[0]} | {rate[1]} | {min(transfers[variant]):.0f}, "
              f"{cost:.0f} | {cost / base_transfers:.2f} |")


if __name__ == "__main__":
    main()
