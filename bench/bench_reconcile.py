"""Benchmark: reconcile 10,000 blocks and find overbookings among 50,000 reservations, against naive baselines.

Run: .venv/bin/python bench/bench_reconcile.py [--full]
The naive O(n*m) baselines would take minutes on the whole input, so by default they run on a slice of the
outer loop and the time is scaled up linearly (exact for a nested loop); --full runs them on everything.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.rules.detect import DirectBooking, ExternalBlock, find_overbookings  # noqa: E402
from jobs.rules.reconcile import StoredBlock, reconcile_blocks  # noqa: E402
from jobs.rules.stays import Stay  # noqa: E402

TODAY = date(2025, 6, 1)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    """Best wall time in ms over `repeat` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000, result


def reconcile_input(n: int, rng: random.Random) -> tuple[list[StoredBlock], list[Stay]]:
    """n stored blocks; the feed keeps 90%, moves 3%, regenerates 3% of UIDs, drops 4% and adds 4%."""
    stored = []
    for i in range(n):
        start = TODAY + timedelta(days=rng.randrange(-60, 3650))
        stored.append(StoredBlock(i + 1, f"EX-{i + 1:06d}", f"uid-{i}", start,
                                  start + timedelta(days=rng.randrange(1, 10)), "Reserved"))
    stays = []
    for b in stored:
        roll = rng.random()
        if roll < 0.03:
            stays.append(Stay(b.uid, b.check_in + timedelta(days=1), b.check_out + timedelta(days=1), b.summary))
        elif roll < 0.06:
            stays.append(Stay(f"regen-{b.id}", b.check_in, b.check_out, b.summary))
        elif roll >= 0.96:
            continue
        else:
            stays.append(Stay(b.uid, b.check_in, b.check_out, b.summary))
    for i in range(n * 4 // 100):
        start = TODAY + timedelta(days=rng.randrange(0, 3650))
        stays.append(Stay(f"new-{i}", start, start + timedelta(days=3)))
    rng.shuffle(stays)
    return stored, stays


def naive_reconcile(stored: Sequence[StoredBlock], stays: Sequence[Stay]) -> tuple[int, int, int]:
    """The obvious nested loops: scan every stored block for each stay (UID, then dates)."""
    used: set[int] = set()
    updated = added = 0
    for stay in stays:
        match = next((b for b in stored if b.id not in used and b.uid == stay.uid), None)
        if match is None:
            match = next((b for b in stored if b.id not in used and b.check_out > TODAY
                          and (b.check_in, b.check_out) == (stay.check_in, stay.check_out)), None)
        if match is None:
            added += 1
            continue
        used.add(match.id)
        updated += (match.uid, match.check_in, match.check_out, match.summary) != (
            stay.uid, stay.check_in, stay.check_out, stay.summary)
    removed = sum(1 for b in stored if b.id not in used and b.check_out > TODAY)
    return added, updated, removed


def overbooking_input(n: int, rng: random.Random) -> tuple[list[DirectBooking], list[ExternalBlock]]:
    """n reservations, half direct and half external, each side a calendar of stays with gaps (a few overlap)."""
    def calendar(count: int) -> list[tuple[date, date]]:
        day, out = date(2000, 1, 1), []
        for _ in range(count):
            day += timedelta(days=rng.randrange(0, 15))
            end = day + timedelta(days=rng.randrange(1, 8))
            out.append((day, end))
            day = end
        rng.shuffle(out)
        return out

    directs = [DirectBooking(f"D-{i}", a, b, T0) for i, (a, b) in enumerate(calendar(n // 2))]
    blocks = [ExternalBlock(f"EX-{i}", 1, f"u{i}", a, b, T0) for i, (a, b) in enumerate(calendar(n - n // 2))]
    return directs, blocks


def naive_overbookings(directs: Sequence[DirectBooking], blocks: Sequence[ExternalBlock]) -> int:
    """Compare every direct booking with every block."""
    found = 0
    for a in directs:
        for b in blocks:
            if a.check_in < b.check_out and b.check_in < a.check_out:
                found += 1
    return found


def report(label: str, fast_ms: float, naive_ms: float, note: str) -> None:
    print(f"{label}: {fast_ms:9.1f} ms   naive: {naive_ms:11.1f} ms{note}   ratio: {naive_ms / fast_ms:7.1f}x")


def main() -> None:
    """Run both benchmarks and print times and speed-up ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="run the naive baselines on the whole input")
    args = parser.parse_args()
    rng = random.Random(20250601)

    stored, stays = reconcile_input(10_000, rng)
    fast_ms, changes = timed(lambda: reconcile_blocks(stored, stays, TODAY))
    share = 1.0 if args.full else 0.1
    subset = stays[: int(len(stays) * share)]
    naive_ms, _ = timed(lambda: naive_reconcile(stored, subset), repeat=1)
    print(f"reconcile {len(stored)} blocks vs {len(stays)} stays -> added {len(changes.added)}, "
          f"updated {len(changes.updated)}, removed {len(changes.removed)}, unchanged {len(changes.unchanged)}")
    report("  reconcile_blocks", fast_ms, naive_ms / share, "" if args.full else f" (from {share:.0%} of stays)")

    directs, blocks = overbooking_input(50_000, rng)
    fast_ms, overlaps = timed(lambda: find_overbookings(directs, blocks))
    share = 1.0 if args.full else 0.02
    sample = directs[: int(len(directs) * share)]
    naive_ms, naive_found = timed(lambda: naive_overbookings(sample, blocks), repeat=1)
    in_sample = {d.code for d in sample}
    assert naive_found == sum(1 for o in overlaps if o.direct_code in in_sample), "sweep and naive disagree"
    print(f"find_overbookings on {len(directs) + len(blocks)} reservations -> {len(overlaps)} overlaps")
    report("  find_overbookings", fast_ms, naive_ms / share, "" if args.full else f" (from {share:.0%} of directs)")


if __name__ == "__main__":
    main()
