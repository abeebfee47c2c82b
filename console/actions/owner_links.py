"""Share a property's status with its owner: a new secret status address (the old one ends), e-mailed
through the alert deliveries when SMTP is set."""
from __future__ import annotations

from flask import current_app

from console.audit.trail import record
from console.extensions import db
from console.models import OwnerStatusLink, Property
from jobs.notify.deliver import enqueue_deliveries
from jobs.notify.routing import Target
from jobs.notify.store import pending_ids, raise_notification

OWNER_STATUS_KIND = "owner_status"


def new_status_url(prop: Property, created_by: str | None) -> str:
    """End the property's status address (if any) and return a new one; commits."""
    config = current_app.config
    row = OwnerStatusLink.open_new(prop.id, config["SECRET_KEY"], created_by)
    record("owner_link.created", "property", prop.id, property_id=prop.id)  # the address itself is never kept
    db.session.commit()
    return row.url(config["PUBLIC_BASE_URL"], config["SECRET_KEY"])


def email_status_link(prop: Property, sent_by: str) -> int:
    """Queue an e-mail of the property's live status address to its owner; the delivery adds the address
    when it sends (never stored in clear). Returns the notification's id."""
    if OwnerStatusLink.current(prop.id) is None:
        new_status_url(prop, sent_by)
    words = (f"Hello,\n\nHere is the status of the calendars linked to \"{prop.name}\" on Only-apartments: "
             "when we last read each one, what it imported, and what to do when one fails. Open the address "
             "below at any time; it shows this property only.")
    note = raise_notification(
        OWNER_STATUS_KIND, f"Your calendars' status: {prop.name}",
        body=f"The status page of {prop.name} was e-mailed to its owner by {sent_by}.",
        owner_text=words, property_id=prop.id,
        targets=[Target("email", prop.owner.email, "owner")])
    record("owner_link.emailed", "property", prop.id, property_id=prop.id, details={"notification_id": note.id})
    db.session.commit()
    enqueue_deliveries(pending_ids([note]))
    return note.id
