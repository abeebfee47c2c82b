"""The work one feed may cause while it is read: recurrence instances and CPU seconds
(docs/sync-rules.md: every unit of work one feed can cause is bounded).

The sync and the dry run pass the same budget (the defaults below); the dry run adds its own wall-clock limit.
A feed past the budget fails as `too_complex` and every stored block is kept: no booking calendar needs more.
CPU time is the reading thread's own (time.thread_time): a sync reads many feeds at once in threads, and the
process's CPU time would charge one feed for the others.
"""
from __future__ import annotations

import time

from jobs.rules.stays import SyncFailure

# 100,000 instances is 180 daily series over the 550-day horizon, far more than any rental calendar holds, and
# reading them takes a few seconds and some 40 MB: enough for a real feed, and a bound on a hostile one.
MAX_INSTANCES_PER_FEED = 100_000
MAX_CPU_SECONDS_PER_FEED = 10.0
CHECK_EVERY = 256  # instances between two looks at the clock


class WorkBudget:
    """Counts the instances a feed's repeating events make and the CPU time spent, failing past the limits."""

    def __init__(self, max_instances: int = MAX_INSTANCES_PER_FEED,
                 max_cpu_seconds: float = MAX_CPU_SECONDS_PER_FEED):
        self.max_instances = max_instances
        self.max_cpu_seconds = max_cpu_seconds
        self.instances = 0
        self._started = time.thread_time()

    def spend(self, instances: int, what: str) -> None:
        """Count instances about to be made by `what` (an event's name); too_complex past the limit."""
        self.instances += instances
        if self.instances > self.max_instances:
            raise SyncFailure("too_complex", (
                f"The calendar's repeating events would make more than {self.max_instances:,} stays within the "
                f"sync horizon ({what} alone repeats up to {instances:,} times), far more than a booking "
                f"calendar holds, so it was not read."))

    def check_time(self) -> None:
        """too_complex when reading this feed has taken more CPU time than allowed."""
        spent = time.thread_time() - self._started
        if spent > self.max_cpu_seconds:
            raise SyncFailure("too_complex", (
                f"Reading the calendar took more than {self.max_cpu_seconds:g} seconds of processing, far more "
                f"than a booking calendar needs, so it was not read."))
