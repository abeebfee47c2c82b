"""A long Google calendar history as issue 13 describes it: ~5,000 events over 14 years, 1.6 MB, ~300 series
still running (daily, weekly, monthly, yearly; timed and all-day; with EXDATEs and moved instances)."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from tests.jobs.feeds import all_day, calendar, dt, google_event, google_header

_RULES = ["FREQ=DAILY", "FREQ=DAILY;INTERVAL=2", "FREQ=WEEKLY;BYDAY=MO,WE,FR", "FREQ=WEEKLY", "FREQ=WEEKLY;BYDAY=TU",
          "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA", "FREQ=WEEKLY;BYDAY=MO", "FREQ=MONTHLY;BYMONTHDAY=1",
          "FREQ=MONTHLY;BYDAY=2TH", "FREQ=MONTHLY", "FREQ=YEARLY", "FREQ=WEEKLY;BYDAY=SU"]
_TITLES = ["Limpieza", "Dentist", "Gym", "Team call", "Check-in Juan", "Lavandería", "Yoga", "Pago alquiler"]


def long_google_history(today: date, events: int = 5000, running: int = 300, reserved_share: float = 0.0,
                        seed: int = 13) -> bytes:
    """A Google history feed; `reserved_share` of its series and one-off events are titled "Reserved"."""
    rng = random.Random(seed)
    lines = google_header()
    first = today - timedelta(days=365 * 14)
    series = 0
    for n in range(events):
        uid = f"{rng.getrandbits(96):024x}@google.com"
        title = "Reserved" if rng.random() < reserved_share else rng.choice(_TITLES)
        extra = ["DESCRIPTION:Notas de la reserva.",
                 "LOCATION:Madrid"]
        start = first + timedelta(days=rng.randint(0, 365 * 14 - 1))
        if series < running and n % (events // running) == 0:
            series += 1
            extra.append(f"RRULE:{rng.choice(_RULES)}")
            start = first + timedelta(days=rng.randint(0, 365 * 12))
            if rng.random() < 0.3:
                extra.append(f"EXDATE;VALUE=DATE:{today + timedelta(days=rng.randint(1, 200)):%Y%m%d}"
                             if n % 2 else f"EXDATE;TZID=Europe/Madrid:{dt(_at(today + timedelta(days=7)))}")
        elif n % 50 == 7:  # a series that ended years ago
            extra.append(f"RRULE:FREQ=WEEKLY;UNTIL={first + timedelta(days=365 * 3):%Y%m%d}T000000Z")
        timed = n % 2 == 0
        if timed:
            lines += google_event(uid, f";TZID=Europe/Madrid:{dt(_at(start))}",
                                  f";TZID=Europe/Madrid:{dt(_at(start) + timedelta(hours=rng.randint(1, 30)))}",
                                  title, *extra)
        else:
            lines += google_event(uid, all_day(start), all_day(start + timedelta(days=rng.randint(1, 6))), title,
                                  *extra)
    return calendar(lines)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 16, 0)
