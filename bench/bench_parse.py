"""Benchmark parse_feed against a naive full parse (icalendar + recurring-ical-events), and its memory on 10 MB.

Run: .venv/bin/python bench/bench_parse.py
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import icalendar  # noqa: E402
import recurring_ical_events  # noqa: E402

from jobs.ical.parse import parse_feed  # noqa: E402
from tests.jobs.feeds import airbnb_feed, google_history_feed  # noqa: E402
from tests.jobs.ical.history import long_google_history  # noqa: E402

TODAY = date(2026, 3, 1)
HORIZON_DAYS = 550


def timed_ms(run: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """Median wall, best wall and median CPU time of run() in milliseconds, after one warm-up call.

    CPU time is shown because other processes on a busy 2-core machine inflate wall time.
    """
    run()
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def naive(body: bytes) -> list:
    """The baseline: parse everything, expand everything over the same window."""
    calendar = icalendar.Calendar.from_ical(body)
    return recurring_ical_events.of(calendar).between(TODAY - timedelta(days=1),
                                                      TODAY + timedelta(days=HORIZON_DAYS + 1))


def compare(name: str, body: bytes, source: str, repeats: int) -> None:
    """Print parse_feed vs the naive baseline for one feed."""
    ours = parse_feed(body, source, "Europe/Madrid", TODAY, HORIZON_DAYS)
    fast = timed_ms(lambda: parse_feed(body, source, "Europe/Madrid", TODAY, HORIZON_DAYS), repeats)
    slow = timed_ms(lambda: naive(body), max(3, repeats // 5))
    print(f"{name}: {len(body) / 1024:.0f} KB, {ours.events_total} events, {len(ours.stays)} stays")
    for label, (median, best, cpu) in (("parse_feed", fast), ("naive", slow)):
        print(f"  {label:<10}  median {median:8.2f} ms   best {best:8.2f} ms   cpu median {cpu:8.2f} ms")
    print(f"  speed-up    x{slow[0] / fast[0]:.1f} (median wall), x{slow[2] / fast[2]:.1f} (median cpu)")


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (reset by exec, unlike ru_maxrss), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def big_feed_child(path: str) -> None:
    """In a fresh process: parse a big feed from disk and print time, tracemalloc peak and peak RSS."""
    body = Path(path).read_bytes()
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    parsed = parse_feed(body, "google", "Europe/Madrid", TODAY, HORIZON_DAYS)
    untraced = (time.perf_counter() - started) * 1000
    rss_peak = peak_rss_mb()  # measured before tracemalloc, whose own bookkeeping would add to it
    tracemalloc.start()
    started = time.perf_counter()
    parse_feed(body, "google", "Europe/Madrid", TODAY, HORIZON_DAYS)
    elapsed = (time.perf_counter() - started) * 1000
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"10 MB feed: {len(body) / 1024 / 1024:.1f} MB, {parsed.events_total} events, {len(parsed.stays)} stays")
    print(f"  parse_feed  {untraced:.0f} ms ({elapsed:.0f} ms under tracemalloc)")
    print(f"  allocations peak during parse_feed (tracemalloc): {traced_peak / 1024 / 1024:.1f} MB")
    print(f"  process peak RSS: {rss_peak:.0f} MB (after imports and reading the body: {rss_before:.0f} MB)")


def main() -> None:
    """Run the three benchmarks."""
    print(f"load average: {' '.join(f'{load:.2f}' for load in os.getloadavg())} on {os.cpu_count()} CPUs")
    google = google_history_feed(TODAY, events=2000)
    compare("Google history feed", google, "google", repeats=30)
    # Issue 13: a long history with ~300 running series (goal: <= 100 ms Google mode, <= 200 ms plain iCal mode).
    history = long_google_history(TODAY)
    series = history.count(b"\nRRULE")
    compare(f"Long Google history ({series} repeating, ~300 running), Google mode", history, "google", repeats=10)
    compare("Same history, plain iCal mode (every series blocks)", history, "ical", repeats=10)
    stays = [(TODAY + timedelta(days=n * 9), TODAY + timedelta(days=n * 9 + 4),
              "Reserved" if n % 3 else "Airbnb (Not available)") for n in range(-5, 40)]
    compare("Airbnb-size feed", airbnb_feed(stays), "airbnb", repeats=200)
    with tempfile.NamedTemporaryFile(suffix=".ics", delete=False) as handle:
        events = 2000
        while len(body := google_history_feed(TODAY, events=events)) < 10 * 1024 * 1024:
            events = int(events * 10.5 * 1024 * 1024 / len(body))
        handle.write(body)
    del body
    try:
        subprocess.run([sys.executable, __file__, "--big-child", handle.name], check=True)
    finally:
        os.unlink(handle.name)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--big-child":
        big_feed_child(sys.argv[2])
    else:
        main()
