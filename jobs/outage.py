"""One log line when Redis or the database stops answering a process, one when it answers again."""
from __future__ import annotations

import sys
import time


class Outage:
    """The state of one dependency (Redis, the database) as one process sees it."""

    def __init__(self, who: str, what: str):
        self.who, self.what = who, what
        self.since: float | None = None

    @property
    def ongoing(self) -> bool:
        """Whether the dependency is lost right now."""
        return self.since is not None

    def lost(self, exc: BaseException | str) -> bool:
        """Note a failure; the first of an outage is said (True), the following ones are not."""
        if self.since is not None:
            return False
        self.since = time.monotonic()
        print(f"{self.who}: {self.what} unreachable ({exc}); waiting for it", file=sys.stderr,
              flush=True)
        return True

    def back(self) -> bool:
        """Note that it answers; said once at the end of an outage (True)."""
        if self.since is None:
            return False
        lasted = time.monotonic() - self.since
        self.since = None
        print(f"{self.who}: {self.what} answers again (after {lasted:.0f} s); carrying on",
              file=sys.stderr, flush=True)
        return True
