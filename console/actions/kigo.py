"""Kigo account reads for staff: the properties an owner's account shares with us, and our links to them."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from console.actions.errors import ActionError
from console.extensions import db
from console.models import CalendarLink, Property
from jobs.kigo.account import kigo_client, list_account_properties
from jobs.kigo.client import KigoClient
from jobs.kigo.replies import KigoProperty
from jobs.rules.advice import advice_for
from jobs.rules.stays import SyncFailure

# readProperty2 is one call per property: past this many, Instant Booking is left unknown (null)
# so a large account does not turn one page load into hundreds of Kigo calls.
INSTANT_BOOKING_READS = 20
GATEWAY_TIMEOUT_KINDS = frozenset({"timeout"})
WEB_RETRY_WAIT_SECONDS = 2.0  # a person is waiting: a longer Retry-After fails the page instead


def kigo_configured() -> bool:
    """Whether the Kigo API credentials are set (without them every call is refused)."""
    config = current_app.config
    return bool(config.get("KIGO_API_SUBSCRIPTION_KEY")
                or (config.get("KIGO_API_USERNAME") and config.get("KIGO_API_PASSWORD")))


def not_configured() -> ActionError:
    """503 when this console has no Kigo credentials."""
    return ActionError("kigo_not_configured", "Kigo API credentials are not configured: set "
                       "KIGO_API_USERNAME and KIGO_API_PASSWORD (and KIGO_API_URL if not the default)",
                       status=503, advice="Tell the tech team.")


def kigo_refusal(failure: SyncFailure) -> ActionError:
    """A failed Kigo call as a refusal: 504 when Kigo was too slow, 502 otherwise, with advice."""
    status = 504 if failure.kind in GATEWAY_TIMEOUT_KINDS else 502
    return ActionError(failure.kind, failure.message, status=status, source="kigo",
                       http_status=failure.http_status,
                       advice=advice_for(failure.kind, "kigo", failure.http_status))


def linked_kigo_properties(prop_ids: list[int]) -> dict[int, list[dict]]:
    """Our links to each of these Kigo property ids, with the property they feed."""
    if not prop_ids:
        return {}
    rows = db.session.execute(
        select(CalendarLink, Property.name).join(Property, CalendarLink.property_id == Property.id)
        .where(CalendarLink.source == "kigo", CalendarLink.kigo_property_id.in_(prop_ids))
        .order_by(CalendarLink.id)).all()
    found: dict[int, list[dict]] = {}
    for link, name in rows:
        found.setdefault(link.kigo_property_id, []).append(
            {"link_id": link.id, "property_id": link.property_id, "property_name": name,
             "state": link.state, "kigo_code": link.kigo_code})
    return found


def _instant_booking(client: KigoClient, props: list[KigoProperty]) -> dict[int, tuple[bool, object]]:
    """(on?, raw PROP_INSTANT_BOOK) of the first properties; missing where Kigo would not say."""
    found: dict[int, tuple[bool, object]] = {}
    for prop in props[:INSTANT_BOOKING_READS]:
        try:
            info = client.read_property(prop.prop_id)
        except SyncFailure as failure:
            if failure.kind in ("kigo_not_found", "kigo_error"):
                continue  # this one property; the list is still useful without the column
            break  # rate limit, network, auth: asking again for the next property would not help
        found[prop.prop_id] = (info.instant_booking, info.instant_booking_raw)
    return found


def account_properties(kigo_code: str) -> list[dict]:
    """The properties Kigo account `kigo_code` shares with us, with Instant Booking and our links.

    Refused (ActionError) when the console has no Kigo credentials or Kigo cannot list them."""
    if not kigo_configured():
        raise not_configured()
    client = kigo_client(current_app.config, max_retry_wait=WEB_RETRY_WAIT_SECONDS)
    try:
        props = sorted(list_account_properties(client, kigo_code), key=lambda p: p.prop_id)
        instant_booking = _instant_booking(client, props)
    except SyncFailure as failure:
        raise kigo_refusal(failure) from None
    links = linked_kigo_properties([p.prop_id for p in props])
    items = []
    for prop in props:
        instant, raw = instant_booking.get(prop.prop_id, (None, None))
        items.append({"kigo_property_id": prop.prop_id, "name": prop.name,
                      "kigo_code": prop.account_code, "instant_booking": instant,
                      "instant_booking_raw": raw, "linked": links.get(prop.prop_id, [])})
    return items
