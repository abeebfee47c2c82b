"""Demo data: a dozen properties whose links show healthy feeds and every common failure."""
from __future__ import annotations

from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from console.actions.properties import owner_for
from console.extensions import db
from console.models import CalendarLink, Property, Reservation, User, new_reservation_code
from console.timeutil import utcnow

DEMO_PASSWORD = "only-apartments-demo"
DEMO_USERS = (("admin@only-apartments.com", "admin"), ("staff@only-apartments.com", "staff"),
              ("property@only-apartments.com", "viewer"), ("manager@only-apartments.com", "viewer"))
DEMO_MANAGER = "manager@only-apartments.com"  # managers read the charts: the viewer role is theirs

# name, city, owner, [(source, feed name or full URL, state)], extra stays [(origin, +in, +out)]
DEMO_PROPERTIES = [
    ("Barcelona Loft", "Barcelona", "marta@example.com",
     [("airbnb", "airbnb-loft", "active")], [("direct", 5, 8)]),
    ("Sitges Villa", "Sitges", "joan@example.com", [("vrbo", "vrbo-villa", "active")], []),
    ("Gràcia Studio", "Barcelona", "marta@example.com",
     [("booking", "booking-studio", "active")], [("direct", 30, 33)]),
    ("Madrid Flat", "Madrid", "lucia@example.com",
     [("google", "google-reserved", "active")], []),
    ("Valencia Beach House", "Valencia", "pablo@example.com",
     [("google", "google-mixed", "active")], []),
    ("Sevilla Patio", "Sevilla", "carmen@example.com",
     [("booking", "booking-empty", "active")], []),
    ("Málaga Penthouse", "Málaga", "diego@example.com",
     [("google", "google-private", "active")], [("direct", 10, 14)]),
    ("Granada Cave House", "Granada", "ana@example.com",
     [("ical", "server-down", "active")], []),
    ("Bilbao Apartment", "Bilbao", "iker@example.com", [("ical", "html-page", "active")], []),
    ("Palma Finca", "Palma", "joan@example.com", [("holidaylettings", "rate-limited", "active")],
     [("manual", 20, 27)]),
    ("Girona Old Town", "Girona", "laia@example.com", [], [("direct", 3, 6)]),
    ("Tarragona Terrace", "Tarragona", "pau@example.com",
     [("ical", "http://calendar-sync-demo.invalid/cal.ics", "active"),
      ("airbnb", "airbnb-loft", "linked")], []),
    ("Cádiz Seaside", "Cádiz", "rocio@example.com",
     [("holidaylettings", "holidaylettings-gone", "active"),
      ("ical", "http://10.20.30.40/calendar.ics", "active")], []),
    # Fails for its first fetches, then recovers: a failure alert and its recovery minutes after start.
    ("Toledo Courtyard", "Toledo", "elena@example.com", [("vrbo", "flaky-then-ok", "active")],
     [("direct", 25, 28)]),  # after the feed's blocks: no overbooking
]


def _feed_url(feed: str) -> str:
    if feed.startswith("http"):
        return feed  # deliberately unreachable or non-public: shows dns / blocked_address
    return f"{current_app.config['PUBLIC_BASE_URL']}/demo-feeds/{feed}.ics"


def load_demo() -> tuple[str, str, bool]:
    """Create demo users and properties unless present; return the admin login and whether created."""
    for email, role in DEMO_USERS:
        if db.session.execute(select(User).filter_by(email=email)).scalar_one_or_none() is None:
            user = User(email=email, role=role)
            user.set_password(DEMO_PASSWORD)
            db.session.add(user)
    created = False
    today, now = date.today(), utcnow()
    for index, (name, city, owner, links, stays) in enumerate(DEMO_PROPERTIES, start=1):
        ref = f"demo-{index}"
        if db.session.execute(select(Property.id).filter_by(external_ref=ref)).first():
            continue
        created = True
        prop = Property(name=name, city=city, owner=owner_for(owner), external_ref=ref,
                        timezone="Europe/Madrid")
        db.session.add(prop)
        for source, feed, state in links:
            db.session.add(CalendarLink(property=prop, source=source, url=_feed_url(feed),
                                        state=state, next_sync_at=now if state == "active" else None,
                                        activated_at=now if state == "active" else None))
        for origin, start, end in stays:
            db.session.add(Reservation(code=new_reservation_code(origin), property=prop,
                                       origin=origin, check_in=today + timedelta(days=start),
                                       check_out=today + timedelta(days=end),
                                       guest_name="Demo guest" if origin == "direct" else None))
    db.session.commit()
    return DEMO_USERS[0][0], DEMO_PASSWORD, created


def database_is_empty() -> bool:
    """True when no property exists yet (make run then loads the demo)."""
    return db.session.execute(select(Property.id).limit(1)).first() is None
