"""What the benchmark scripts share: percentiles, work splitting, machine facts."""

from __future__ import annotations

import os
import platform


def quantile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) of already sorted values; NaN when there are none."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def split(total: int, parts: int) -> list[int]:
    """``total`` spread as evenly as possible over at most ``parts`` non-empty parts."""
    parts = max(1, min(parts, total))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def wait_window(go, times) -> tuple[float, float]:
    """Block until the measuring window is announced; return its (start, end)."""
    go.wait()
    return times[0], times[1]


def machine_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def cpu_model() -> str:
    """The processor's model name, for the record of a run."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float]:
    """(parent pid, user + system CPU seconds of all its threads) of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _processes() -> dict[int, tuple[int, float]]:
    """(parent pid, CPU seconds) of every live process, from /proc."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stats[int(entry)] = _stat(int(entry))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    return stats


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants (`up` runs the core as a child)."""
    stats = _processes()
    children: dict[int, list[int]] = {}
    for child, (parent, _) in stats.items():
        children.setdefault(parent, []).append(child)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo.extend(children.get(current, ()))
    return total


def child_pids(pid: int) -> list[int]:
    """The live children of a process."""
    return [child for child, (parent, _) in _processes().items() if parent == pid]
