"""A seed with many payers, and how long the bank takes to load it.

Run by hand (not a test)::

    .venv/bin/python bench/make_seed.py DIR [-n 1000000] [--load]

writes ``DIR/seed.yaml`` — the demo seed (etc/seed-demo.yaml) with its
personal accounts and agreements replaced by ``{file: …}`` lists — and beside
it ``DIR/personal_accounts.csv`` (N individuals' accounts) and
``DIR/agreements.csv`` (one collection agreement each, for the first account
of the demo's first enterprise, 0000000001). The rows vary the way a month's
premium run does: most payers active with a few thousand yuan, one in a
hundred frozen, one in two hundred closed, one in fifty short of money; one
agreement in a hundred revoked, one in fifty expired, a quarter with a
maximum per collection. The ID numbers carry a correct check character.

With ``--load``, a fresh process then opens a new ledger ``DIR/ledger.db``
from the seed exactly as ``directlink core serve`` does (``Bank.open(path,
seed=load_seed(...))``, one transaction) and reports the wall time of the
load and of the whole open, the peak RSS of that process
(``resource.getrusage``), the rows in the ledger, and whether
``directlink core check`` passes. ``--load-only`` does just that step on an
existing DIR.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from config.seed import DEMO_SEED  # noqa: E402

CORP_NO = "0000000001"
RCV_ACNO = "310066726018010000001"
_FAMILY = "张王李赵陈刘杨黄吴周"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_no(i: int) -> str:
    """An 18-character resident ID (Beijing Dongcheng, born 1960-1999) with its check character."""
    born = f"{1960 + i % 40}{1 + i % 12:02d}{1 + i % 28:02d}"
    body = f"110101{born}{i % 1000:03d}"
    return body + _CHECK[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def write_seed(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    head = DEMO_SEED.split("\n# Individuals' accounts", 1)[0]
    (directory / "seed.yaml").write_text(
        head + "\n# bench/make_seed.py: "
        f"{count} payers, each with a collection agreement\n"
        "personal_accounts: {file: personal_accounts.csv}\n"
        "agreements: {file: agreements.csv}\n", encoding="utf-8")
    with (directory / "personal_accounts.csv").open("w", encoding="utf-8", newline="") as people, \
            (directory / "agreements.csv").open("w", encoding="utf-8", newline="") as deals:
        accounts = csv.writer(people)
        agreements = csv.writer(deals)
        accounts.writerow(["acno", "name", "id_no", "balance", "status"])
        agreements.writerow(["agreement_no", "corp_no", "rcv_acno", "payer_acno", "payer_name",
                             "max_amt", "valid_to", "status"])
        for i in range(count):
            acno = f"62226002{i:011d}"
            name = _FAMILY[i % 10] + _GIVEN[(i // 10) % 20] + ("" if i % 3 else _GIVEN[i % 20])
            balance = "12.50" if i % 50 == 7 else f"{1000 + (i * 37) % 9000}.{i % 100:02d}"
            status = "frozen" if i % 100 == 3 else "closed" if i % 200 == 5 else ""
            if status == "closed":
                balance = "0.00"
            accounts.writerow([acno, name, id_no(i), balance, status])
            agreements.writerow([
                f"AG{i:012d}", CORP_NO, RCV_ACNO, acno, name,
                "500.00" if i % 4 == 1 else "",
                "2020-12-31" if i % 50 == 9 else "2030-12-31" if i % 2 else "",
                "revoked" if i % 100 == 11 else "",
            ])


def load(directory: Path) -> dict:
    """Open a new ledger from DIR/seed.yaml; what it took (run in a fresh process)."""
    from config.seed import load_seed
    from core_sim.bank import Bank
    from core_sim.check import check_ledger

    ledger = directory / "ledger.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{ledger}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    seed = load_seed(directory / "seed.yaml")
    loaded = time.perf_counter()
    bank = Bank.open(ledger, seed=seed)
    opened = time.perf_counter()
    rows = dict(bank.connection.execute(
        "SELECT 'accounts', count(*) FROM accounts UNION ALL"
        " SELECT 'agreements', count(*) FROM agreements UNION ALL"
        " SELECT 'postings', count(*) FROM postings"))
    bank.close()
    closed = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = check_ledger(ledger)
    return {"load_seed_s": round(loaded - started, 3), "bank_open_s": round(opened - loaded, 3),
            "close_s": round(closed - opened, 3), "total_s": round(closed - started, 3),
            "peak_rss_mb": round(peak_mb, 1), "rows": rows, "check_ok": report.ok,
            "ledger_mb": round(os.path.getsize(ledger) / 2**20, 1),
            "check_failed": [str(check) for check in report.failed]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("-n", "--count", type=int, default=1_000_000)
    parser.add_argument("--load", action="store_true", help="then load it in a fresh process")
    parser.add_argument("--load-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_only:
        print(json.dumps(load(args.dir)))
        return
    started = time.perf_counter()
    write_seed(args.dir, args.count)
    print(f"wrote {args.dir}/seed.yaml with {args.count} personal accounts and agreements"
          f" in {time.perf_counter() - started:.1f} s")
    if args.load:
        out = subprocess.run([sys.executable, __file__, str(args.dir), "--load-only"],
                             check=True, capture_output=True, text=True).stdout
        result = json.loads(out)
        print(f"load_seed {result['load_seed_s']} s, Bank.open {result['bank_open_s']} s,"
              f" close {result['close_s']} s, total {result['total_s']} s;"
              f" peak RSS {result['peak_rss_mb']} MB; ledger {result['ledger_mb']} MB")
        print(f"rows: {result['rows']}; core check: {'ok' if result['check_ok'] else 'FAILED'}")
        for line in result["check_failed"]:
            print(f"  {line}")
        if not result["check_ok"]:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
