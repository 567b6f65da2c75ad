"""One batch collection of N items (default 1,000,000) through ``directlink up``, and its floor.

Run by hand (not a test)::

    .venv/bin/python bench/batch_bench.py [--items 1000000] [--bad 0.01] [--keep DIR]

**Setup (not timed as the batch).** A seed with the demo bank's first
enterprise and N personal accounts with N collection agreements, as CSV lists
(``personal_accounts: {file: …}``, ``agreements: {file: …}``); ``directlink
up`` on a fresh home with it, every port 0 (the time to READY, which includes
loading the seed, is reported on its own). A 330010 file of N lines, one per
payer, 12.34 yuan each, of which the fraction --bad fail for their own
reasons in equal parts (no such agreement, above the agreement's maximum,
insufficient funds).

**End to end (timed).** From the ERP's submit (raw TCP, ``file_flag=1``) to a
complete result file: the submit's reply (the bank holds the whole file),
then 310207 every 0.2 s until the batch is finished, then 310207 with
``file_flag=1``, whose reply comes when ``FILENAME.result`` is written. The
result file must have N lines with exactly the expected failures, the
enterprise's balance must have grown by the succeeded amount, and
``directlink core check`` must pass. The peak resident memory (VmHWM) of
every process — ``up`` with the daemon, the core's server, its ledger
process — is read before they stop.

**Floor.** The ledger rows the bank writes for the batch, written by a plain
SQLite script on a copy of the same schema: the items staged (one row each,
as the segments arrive), then per item its entry, its two postings, the
payer's balance and the item's result, with executemany in transactions of
5,000 items, WAL and synchronous=FULL like the bank. Its items/s is the rate
no implementation of this design can beat on this machine; the ratio is
end to end over floor, measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._common import _stat, child_pids, cpu_model  # noqa: E402

CORP, USER = "0000000001", "001"
COLLECTING = "310066726018010000001"
AMOUNT_FEN = 1234
BANK_NO = "301290000007"


def write_seed(folder: Path, items: int) -> Path:
    """A seed with N personal accounts and agreements (CSV lists); returns its path."""
    with (folder / "personal.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["acno", "name", "id_no", "balance", "status"])
        for i in range(items):
            # Every 3rd bad item lacks funds: its payer holds 1.00.
            balance = "1.00" if _bad_kind(i, items) == "funds" else "100.00"
            writer.writerow([_payer(i), f"客户{i}", f"{110101199001010000 + i % 10_000:018d}",
                             balance, "active"])
    with (folder / "agreements.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["agreement_no", "corp_no", "rcv_acno", "payer_acno", "payer_name",
                         "max_amt", "status"])
        for i in range(items):
            max_amt = "10.00" if _bad_kind(i, items) == "max" else ""
            writer.writerow([f"AG{i:010d}", CORP, COLLECTING, _payer(i), f"客户{i}", max_amt,
                             "active"])
    seed = folder / "seed.yaml"
    seed.write_text(f"""bank:
  name: Simulated Bank
  bank_no: "{BANK_NO}"
enterprises:
  - corp_no: "{CORP}"
    name: Demo Insurance Co., Ltd.
    users:
      - user_no: "{USER}"
    accounts:
      - acno: "{COLLECTING}"
        name: Demo Insurance Co., Ltd.
        currency: CNY
        balance: "1000000.00"
personal_accounts: {{file: personal.csv}}
agreements: {{file: agreements.csv}}
""", encoding="utf-8")
    return seed


_BAD_EVERY: dict[int, int] = {}


def _bad_kind(i: int, items: int) -> str | None:
    every = _BAD_EVERY[items]
    if every == 0 or i % every != every - 1:
        return None
    return ("agreement", "max", "funds")[(i // every) % 3]


def _payer(i: int) -> str:
    return f"62226{i:014d}"


def write_batch(path: Path, items: int) -> dict[str, int]:
    """The 330010 file; returns the expected count of each failure code."""
    expected = {"E021": 0, "E024": 0, "E008": 0}
    with path.open("w", encoding="gbk", newline="") as out:
        for i in range(items):
            kind = _bad_kind(i, items)
            agreement = f"AG{i:010d}" if kind != "agreement" else f"NO{i:010d}"
            if kind:
                expected[{"agreement": "E021", "max": "E024", "funds": "E008"}[kind]] += 1
            out.write(f"{_payer(i)},客户{i},{agreement},12.34,B{i:010d}\r\n")
    return expected


def erp(address: tuple[str, int], tr_code: str, body: dict[str, str], req_no: str,
        timeout: float = 600.0) -> tuple[dict[str, str], dict[str, str]]:
    head = (f"<tr_code>{tr_code}</tr_code><corp_no>{CORP}</corp_no><user_no>{USER}</user_no>"
            f"<req_no>{req_no}</req_no>")
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in body.items())
    xml = f'<?xml version="1.0" encoding="GBK"?><ap><head>{head}</head><body>{fields}</body></ap>'
    data = xml.encode("gbk")
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(f"0{len(data)}".ljust(7).encode() + data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    text = received[7:].decode("gbk")
    values = dict(re.findall(r"<(\w+)>([^<]*)</\1>", text))
    return values, values


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def floor(items: int, folder: Path) -> float:
    """Seconds for the same ledger rows written by plain executemany (see the docstring)."""
    from core_sim import schema

    path = folder / "floor.db"
    conn = schema.connect(path)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO accounts (id, kind, acno, bank_no, bank_name, name, currency, status,"
        " opened, balance) VALUES (?, 'personal', ?, ?, 'B', ?, 'CNY', 'active', '20260101',"
        " 10000)", ((i + 10, _payer(i), BANK_NO, f"客户{i}") for i in range(items)))
    conn.execute("INSERT INTO enterprises (corp_no, name) VALUES (?, 'Demo')", (CORP,))
    conn.execute("INSERT INTO accounts (id, kind, acno, bank_no, bank_name, name, currency,"
                 " corp_no, status, opened) VALUES (1, 'customer', ?, ?, 'B', 'Demo', 'CNY', ?,"
                 " 'active', '20260101')", (COLLECTING, BANK_NO, CORP))
    conn.execute("INSERT INTO instructions (id, corp_no, req_no, user_no, tr_code, digest,"
                 " status, reply, biz_date, created_at, updated_at) VALUES (1, ?, 'F', ?,"
                 " '330010', x'00', 'processing', '', '', '', '')", (CORP, USER))
    conn.execute("INSERT INTO batches (id, instruction_id, corp_no, req_no, tr_code,"
                 " account_id, inline, declared_count, declared_amt, header_digest, state,"
                 " biz_date, created_at, updated_at) VALUES (1, 1, ?, 'F', '330010', 1, 0, ?,"
                 " ?, x'00', 'receiving', '', '', '')", (CORP, items, items * AMOUNT_FEN))
    conn.execute("COMMIT")
    started = time.perf_counter()
    chunk = 1000
    for start in range(0, items, chunk):  # staging, one transaction per segment
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO batch_items (batch_id, seq, busino, acno, acname, amt, agreement_no,"
            " bank_no) VALUES (1, ?, ?, ?, ?, ?, ?, '')",
            ((i + 1, f"B{i:010d}", _payer(i), f"客户{i}", AMOUNT_FEN, f"AG{i:010d}")
             for i in range(start, min(items, start + chunk))))
        conn.execute("COMMIT")
    chunk = 5000
    balance = 0
    for start in range(0, items, chunk):
        end = min(items, start + chunk)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO entries (id, serial_no, kind, biz_date, created_at, tr_time, summary,"
            " instruction_id, item_seq) VALUES (?, ?, 'batch_item', '20261124', '', '093000',"
            " '', 1, ?)", ((i + 1, f"2026112400{i:08d}", i + 1) for i in range(start, end)))
        postings = []
        for i in range(start, end):
            balance += AMOUNT_FEN
            postings.append((i + 1, i + 10, "D", AMOUNT_FEN, 10000 - AMOUNT_FEN, _payer(i)))
            postings.append((i + 1, 1, "C", AMOUNT_FEN, balance, COLLECTING))
        conn.executemany(
            "INSERT INTO postings (entry_id, account_id, side, amount, balance_after, biz_date,"
            " opp_acno, opp_acname) VALUES (?, ?, ?, ?, ?, '20261124', ?, '')", postings)
        conn.executemany("UPDATE accounts SET balance = ? WHERE id = ?",
                         [(10000 - AMOUNT_FEN, i + 10) for i in range(start, end)] +
                         [(balance, 1)])
        conn.executemany(
            "UPDATE batch_items SET status = 'success', flw = ? WHERE batch_id = 1 AND seq = ?",
            ((f"2026112400{i:08d}", i + 1) for i in range(start, end)))
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--bad", type=float, default=0.01, help="fraction of failing items")
    parser.add_argument("--keep", type=Path, default=None,
                        help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    n = args.items
    _BAD_EVERY[n] = round(1 / args.bad) if args.bad else 0
    folder = args.keep or Path(tempfile.mkdtemp(prefix="batch-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    home = folder / "home"
    print(f"# batch bench: {n} items, {args.bad:.1%} bad; {cpu_model()}, nproc "
          f"{os.cpu_count()}, {platform.python_implementation()} {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)

    t = time.perf_counter()
    seed = write_seed(folder, n)
    print(f"seed CSVs written: {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    with (folder / "up.stderr").open("wb") as stderr:
        up = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "directlink"), "up", "--home", str(home), "--seed",
             str(seed), "--erp-port", "0", "--http-port", "0", "--core-port", "0"],
            stdout=subprocess.PIPE, stderr=stderr, cwd=REPO)
    line = up.stdout.readline().decode()
    if not line.startswith("READY"):
        sys.exit(f"directlink up did not start: {line!r}; see {folder / 'up.stderr'}")
    ready_s = time.perf_counter() - t
    address = re.search(r"erp_tcp=([\d.]+):(\d+)", line)
    erp_address = (address[1], int(address[2]))
    print(f"up ready (loading {n} personal accounts and {n} agreements): {ready_s:.1f} s",
          flush=True)

    files = home / "files"
    files.mkdir(parents=True, exist_ok=True)
    batch = files / "premiums.txt"
    expected = write_batch(batch, n)
    failing = sum(expected.values())
    total_yuan = f"{n * AMOUNT_FEN // 100}.{n * AMOUNT_FEN % 100:02d}"
    server = child_pids(up.pid)[0]
    ledger = child_pids(server)[0]
    processes = {"up (daemon)": up.pid, "core server": server, "core ledger": ledger}

    def cpu() -> dict[str, float]:
        return {name: _stat(pid)[1] for name, pid in processes.items()}

    try:
        cpu_marks = [cpu()]
        start = time.perf_counter()
        reply, _ = erp(erp_address, "330010", {
            "cert_no": "BENCH", "rcv_acno": COLLECTING, "sum": str(n), "sum_amt": total_yuan,
            "summary": "premiums", "busi_no": "FEE01", "file_flag": "1",
            "filename": batch.name}, "BENCH1")
        submitted = time.perf_counter() - start
        cpu_marks.append(cpu())
        if reply.get("particular_code") != "0000":
            sys.exit(f"submit refused: {reply}")
        while True:
            status, _ = erp(erp_address, "310207", {"ogl_serial_no": "BENCH1"}, "S")
            if status.get("state") in ("3", "4"):
                break
            time.sleep(0.2)
        executed = time.perf_counter() - start
        cpu_marks.append(cpu())
        written, _ = erp(erp_address, "310207", {"ogl_serial_no": "BENCH1", "file_flag": "1"},
                         "R")
        elapsed = time.perf_counter() - start
        cpu_marks.append(cpu())
        rss = {name: peak_rss_mb(pid) for name, pid in processes.items()}
    finally:
        up.terminate()
        up.wait(60)

    result = files / written.get("filename", "missing")
    codes: dict[str, int] = {}
    lines = 0
    with result.open(encoding="gbk") as handle:
        for line in handle:
            lines += 1
            fields = line.rstrip("\r\n").split(",")
            if fields[5] != "F":
                codes[fields[7]] = codes.get(fields[7], 0) + 1
    check = subprocess.run([str(REPO / ".venv" / "bin" / "directlink"), "core", "check",
                            "--home", str(home)], capture_output=True, text=True)
    assert lines == n, f"result file has {lines} lines, expected {n}"
    assert codes == {k: v for k, v in expected.items() if v}, (codes, expected)
    assert status["ok_count"] == str(n - failing), status
    assert check.returncode == 0, check.stdout + check.stderr

    floor_s = floor(n, folder)
    print(json.dumps({"items": n, "failed": failing, "submit_s": round(submitted, 2),
                      "executed_s": round(executed, 2), "end_to_end_s": round(elapsed, 2),
                      "items_per_s": round(n / elapsed), "floor_s": round(floor_s, 2),
                      "floor_items_per_s": round(n / floor_s),
                      "ratio": round(floor_s / elapsed, 3), "peak_rss_mb": rss,
                      "up_ready_s": round(ready_s, 1)}, ensure_ascii=False))
    print()
    print("| Measurement | Value |")
    print("|---|---:|")
    print(f"| submit → reply (bank holds the whole file) | {submitted:.1f} s |")
    print(f"| submit → batch finished (310207 state 3) | {executed:.1f} s |")
    print(f"| submit → complete result file | {elapsed:.1f} s |")
    print(f"| end to end, items/s | {n / elapsed:,.0f} |")
    print(f"| floor (plain SQLite, same rows) | {floor_s:.1f} s, {n / floor_s:,.0f} items/s |")
    print(f"| end to end / floor | {floor_s / elapsed:.2f} |")
    for name, mb in rss.items():
        print(f"| peak RSS, {name} | {mb:.0f} MB |")
    print("\n| CPU seconds | upload | execution | result file |")
    print("|---|---:|---:|---:|")
    phases = list(itertools.pairwise(cpu_marks))
    for name in processes:
        cells = " | ".join(f"{after[name] - before[name]:.1f}" for before, after in phases)
        print(f"| {name} | {cells} |")
    walls = (submitted, executed - submitted, elapsed - executed)
    print("| wall clock | " + " | ".join(f"{w:.1f}" for w in walls) + " |")
    print(f"| `up` ready with the seed loaded | {ready_s:.1f} s |")
    print(f"\ncore check: {check.stdout.strip().splitlines()[-1] if check.stdout else 'ok'}")
    if not args.keep:
        import shutil
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
