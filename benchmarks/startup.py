"""Start-up time of ``nameplate --help`` and ``nameplate check --help`` against ``python -c pass``.

Run: ``.venv/bin/python benchmarks/startup.py``. Prints medians of 15 runs each and the ratios;
the goal is at most 150 ms for both commands on the same machine.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 15


def median_ms(argv: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    py = sys.executable
    base = median_ms([py, "-c", "pass"])
    rows = [
        ("python -c pass", base),
        ("nameplate --help", median_ms([py, "-m", "nameplate", "--help"])),
        ("nameplate check --help", median_ms([py, "-m", "nameplate", "check", "--help"])),
    ]
    for name, ms in rows:
        print(
            f"{name:<24} {ms:7.1f} ms  {ms / base:5.2f}x baseline  {'ok' if ms <= 150 else 'SLOW'}"
        )


if __name__ == "__main__":
    main()
