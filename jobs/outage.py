"""One log line when Redis or the database stops answering a process, one when it answers again."""
from __future__ import annotations

import sys
import time


class Outage:
    """The state of one dependency (Redis, the database) as one process sees it."""

    LOST_SAYS = "unreachable ({exc}); waiting for it"
    BACK_SAYS = "answers again"

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
        print(f"{self.who}: {self.what} {self.LOST_SAYS.format(exc=exc)}", file=sys.stderr,
              flush=True)
        return True

    def back(self) -> bool:
        """Note that it answers; said once at the end of an outage (True)."""
        if self.since is None:
            return False
        lasted = time.monotonic() - self.since
        self.since = None
        print(f"{self.who}: {self.what} {self.BACK_SAYS} (after {lasted:.0f} s); carrying on",
              file=sys.stderr, flush=True)
        return True


class Failing(Outage):
    """The state of a task a process runs itself (the scheduler's sweep): said once when it starts
    failing, whatever the cause, and once when it works again."""

    LOST_SAYS = "failed ({exc}); trying again every period"
    BACK_SAYS = "works again"
