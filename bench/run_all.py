"""Run every benchmark, one after another, each in its own process (`make bench`).

Each prints its own figures and its ratio against a naive baseline measured in the same run.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("bench_parse.py", "bench_reconcile.py", "bench_scores.py", "bench_worker_memory.py",
           "bench_fleet.py", "bench_alerts.py", "bench_fleet_costs.py", "bench_bulk_actions.py",
           "bench_console_pages.py", "bench_schedule_value.py")


def main() -> int:
    """Run each benchmark; non-zero when one of them failed."""
    failed = []
    for name in BENCHES:
        print(f"\n=== {name} ===", flush=True)
        began = time.perf_counter()
        if subprocess.run([sys.executable, str(HERE / name)]).returncode != 0:
            failed.append(name)
        print(f"({name}: {time.perf_counter() - began:.0f} s)", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
