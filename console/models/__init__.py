"""The data model, split by domain; import models from here."""
from console.models.people import ApiToken, User, ROLES, role_at_least
from console.models.properties import Owner, Property
from console.models.links import CalendarLink, SyncRun, LINK_STATES, SOURCES
from console.models.bookings import (ExportFetch, Overbooking, Reservation, ScoreSnapshot,
                                     new_reservation_code)

__all__ = ["ApiToken", "User", "ROLES", "role_at_least", "Owner", "Property", "CalendarLink",
           "SyncRun", "LINK_STATES", "SOURCES", "ExportFetch", "Overbooking", "Reservation",
           "ScoreSnapshot", "new_reservation_code"]
