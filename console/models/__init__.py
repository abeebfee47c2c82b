"""The data model, split by domain; import models from here."""
from console.models.audit import AuditEntry
from console.models.bookings import ExportFetch, Overbooking, Reservation, ScoreSnapshot, new_reservation_code
from console.models.links import LINK_STATES, SOURCES, CalendarLink, SyncRun
from console.models.notifications import (
    AlertIncident,
    AlertRecipient,
    AlertSetting,
    LinkAlertState,
    Notification,
    NotificationDelivery,
)
from console.models.owner_links import OwnerStatusLink
from console.models.people import ROLES, ApiToken, User, role_at_least
from console.models.prevented import PreventedOverbooking
from console.models.properties import Owner, Property

__all__ = ["ApiToken", "User", "ROLES", "role_at_least", "Owner", "Property", "CalendarLink",
           "SyncRun", "LINK_STATES", "SOURCES", "ExportFetch", "Overbooking", "Reservation",
           "ScoreSnapshot", "new_reservation_code", "AlertIncident", "AlertRecipient", "AlertSetting",
           "LinkAlertState",
           "Notification", "NotificationDelivery", "AuditEntry", "OwnerStatusLink", "PreventedOverbooking"]
