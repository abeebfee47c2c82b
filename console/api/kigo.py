"""API: the Kigo properties an owner's account shares with us, so staff pick instead of typing ids."""
from __future__ import annotations

from flask import current_app, jsonify, request
from sqlalchemy import select

from console.api import api_bp
from console.api.errors import ApiError
from console.api.validate import invalid
from console.extensions import db
from console.models import CalendarLink, Property
from jobs.advice import advice_for
from jobs.kigo import KigoClient, KigoProperty, list_account_properties
from jobs.kigo_reading import kigo_client
from jobs.stays import SyncFailure

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

    Raises SyncFailure (kigo_auth, timeout, connect, kigo_error...) when Kigo cannot list them."""
    client = kigo_client(current_app.config, max_retry_wait=WEB_RETRY_WAIT_SECONDS)
    props = sorted(list_account_properties(client, kigo_code), key=lambda p: p.prop_id)
    links = linked_kigo_properties([p.prop_id for p in props])
    instant_booking = _instant_booking(client, props)
    items = []
    for prop in props:
        instant, raw = instant_booking.get(prop.prop_id, (None, None))
        items.append({"kigo_property_id": prop.prop_id, "name": prop.name,
                      "kigo_code": prop.account_code, "instant_booking": instant,
                      "instant_booking_raw": raw, "linked": links.get(prop.prop_id, [])})
    return items


def kigo_api_error(failure: SyncFailure) -> ApiError:
    """A failed Kigo call as the API's error: 504 when Kigo was too slow, 502 otherwise."""
    status = 504 if failure.kind in GATEWAY_TIMEOUT_KINDS else 502
    return ApiError(status, failure.kind, failure.message, source="kigo",
                    http_status=failure.http_status,
                    advice=advice_for(failure.kind, "kigo", failure.http_status))


def not_configured_error() -> ApiError:
    """503 when this console has no Kigo credentials."""
    return ApiError(503, "kigo_not_configured", "Kigo API credentials are not configured: set "
                    "KIGO_API_USERNAME and KIGO_API_PASSWORD (and KIGO_API_URL if not the default)")


@api_bp.get("/kigo/properties")
def kigo_properties():
    """The Kigo properties shared with us by account `kigo_code`, and which of ours each feeds."""
    code = (request.args.get("kigo_code") or "").strip()
    if not code:
        raise invalid("kigo_code", "is required (the owner's Kigo account code)", "missing_field")
    if len(code) > 64:
        raise invalid("kigo_code", "must be at most 64 characters")
    if not kigo_configured():
        raise not_configured_error()
    try:
        items = account_properties(code)
    except SyncFailure as failure:
        raise kigo_api_error(failure) from None
    return jsonify(kigo_code=code, items=items, total=len(items))
