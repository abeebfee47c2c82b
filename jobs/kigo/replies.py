"""Kigo replies (the API_REPLY part of the envelope) turned into plain data (pure: no HTTP).

`jobs.kigo.client.KigoClient` does the talking and hands decoded replies here.
Anything we cannot read safely raises SyncFailure("kigo_error"), because a half-read reservation
list would look like cancellations and remove real blocks.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from jobs.rules.stays import Stay, SyncFailure


@dataclass(frozen=True)
class KigoProperty:
    """A property our Kigo credentials can see, with the account (rental agency) that shares it."""

    prop_id: int
    name: str
    provider_type: str | None
    ra_id: int | str | None  # PROP_PROVIDER.RA_ID: the owner's Kigo account code, as Kigo sent it

    @property
    def account_code(self) -> str:
        """The account code as owners type it: RA_ID as text ("" when Kigo sent none)."""
        return "" if self.ra_id is None else str(self.ra_id).strip()


@dataclass(frozen=True)
class KigoPropertyInfo:
    """What readProperty2 tells us about one property; the raw Instant Booking value is kept for staff."""

    prop_id: int
    name: str
    instant_booking: bool
    instant_booking_raw: object


@dataclass(frozen=True)
class KigoDiff:
    """Reservation changes since a DIFF_ID, for one property: stays to (re)block and uids to release."""

    diff_id: str | None
    changed: list[Stay] = field(default_factory=list)
    cancelled_uids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KigoSnapshot:
    """Everything one Kigo link sync reads: the blocking stays and the Instant Booking setting."""

    stays: list[Stay]
    instant_booking: bool
    instant_booking_raw: object
    property_name: str
    prop_id: int | None = None

    def instant_booking_failure(self) -> SyncFailure | None:
        """The kigo_not_instant_booking failure to record when Instant Booking is off (the stays still count)."""
        if self.instant_booking:
            return None
        return SyncFailure("kigo_not_instant_booking",
                           f"Kigo property {self.prop_id} ({self.property_name or 'no name'}) is not set to "
                           f"Instant Booking (Kigo sent PROP_INSTANT_BOOK = {json.dumps(self.instant_booking_raw)})")


def kigo_id(value: object, what: str) -> int:
    """A Kigo numeric id as an exact int (JSON numbers or digit strings; never through float)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise SyncFailure("kigo_error", f"{what} is {value!r}, not a whole number")


def same_account(code: str, prop: KigoProperty) -> bool:
    """Whether an owner's Kigo account code names the account sharing `prop` (case and spaces ignored)."""
    wanted = code.strip().upper()
    return bool(wanted) and wanted == prop.account_code.upper()


def parse_properties(reply: object, method: str) -> list[KigoProperty]:
    """listProperties2 (nested PROP_PROVIDER) or legacy listProperties (flat PROP_PROVIDER_*) records."""
    if reply is None:
        return []
    if not isinstance(reply, list):
        raise SyncFailure("kigo_error", f"Kigo {method} answered {type(reply).__name__} instead of a list")
    return [_parse_property(record, method) for record in reply]


def _parse_property(record: object, method: str) -> KigoProperty:
    """One property record of a property list."""
    if not isinstance(record, dict):
        raise SyncFailure("kigo_error", f"Kigo {method} listed {record!r} instead of a property")
    provider = record.get("PROP_PROVIDER")
    if isinstance(provider, dict):
        provider_type, ra_id = provider.get("PROVIDER_TYPE"), provider.get("RA_ID")
    else:
        provider_type, ra_id = record.get("PROP_PROVIDER_TYPE"), record.get("PROP_PROVIDER_RA_ID")
    return KigoProperty(prop_id=kigo_id(record.get("PROP_ID"), f"Kigo {method}: PROP_ID"),
                        name=str(record.get("PROP_NAME") or ""),
                        provider_type=None if provider_type is None else str(provider_type),
                        ra_id=ra_id)


def instant_booking_is_on(raw: object) -> bool:
    """PROP_INSTANT_BOOK: true means on (nothing confirms an old client's claim that the legacy API
    inverts it); also 1 and "true", seen from loose encoders."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return raw == 1
    if isinstance(raw, str):
        return raw.strip().lower() in {"true", "1", "yes"}
    return False


def parse_property_info(reply: object, prop_id: int) -> KigoPropertyInfo:
    """readProperty2's reply: PROP_INSTANT_BOOK at the top, the name in PROP_INFO (or at the top)."""
    if not isinstance(reply, dict):
        raise SyncFailure("kigo_error",
                          f"Kigo readProperty2 answered {type(reply).__name__} for property {prop_id}")
    info = reply.get("PROP_INFO") if isinstance(reply.get("PROP_INFO"), dict) else {}
    raw = reply.get("PROP_INSTANT_BOOK")
    return KigoPropertyInfo(prop_id=prop_id,
                            name=str(info.get("PROP_NAME") or reply.get("PROP_NAME") or ""),
                            instant_booking=instant_booking_is_on(raw),
                            instant_booking_raw=raw)


def is_cancelled(status: str) -> bool:
    """Any cancelled flavour (CANCELLED, CANCELED, CANCELLED_BY_GUEST...) frees the dates."""
    return "CANCEL" in status.upper()


def reservation_uid(res_id: int) -> str:
    """The stable uid of a Kigo reservation's block."""
    return f"kigo-{res_id}"


def parse_reservation(record: object, method: str) -> tuple[Stay | None, str, str]:
    """(stay, uid, status) of one reservation record; stay is None when cancelled or zero nights long."""
    if not isinstance(record, dict):
        raise SyncFailure("kigo_error", f"Kigo {method} listed {record!r} instead of a reservation")
    res_id = kigo_id(record.get("RES_ID"), f"Kigo {method}: RES_ID")
    uid = reservation_uid(res_id)
    # Kigo sends CONFIRMED and HOLD; any other non-cancelled (or missing) status blocks too,
    # because an unknown reservation is safer blocked than sold twice.
    # Only printable text reaches the database: PostgreSQL refuses NUL, encoders lone surrogates.
    status = "".join(ch for ch in str(record.get("RES_STATUS") or "UNKNOWN")
                     if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF).strip().upper()[:40]
    if is_cancelled(status):
        return None, uid, status
    check_in = _reservation_date(record, "RES_CHECK_IN", res_id, method)
    check_out = _reservation_date(record, "RES_CHECK_OUT", res_id, method)
    if check_out < check_in:
        raise SyncFailure("kigo_error", f"Kigo {method}: reservation {res_id} checks out "
                                        f"({check_out}) before it checks in ({check_in})")
    if check_out == check_in:
        return None, uid, status  # no night is taken
    return Stay(uid=uid, check_in=check_in, check_out=check_out,
                summary=f"Kigo reservation {res_id} ({status})"), uid, status


def _reservation_date(record: dict, key: str, res_id: int, method: str) -> date:
    """A YYYY-MM-DD reservation date kept as a date (a time part, if any, is ignored)."""
    value = record.get(key)
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SyncFailure("kigo_error",
                          f"Kigo {method}: reservation {res_id} has {key} {value!r}, not a date") from None


def parse_reservations(reply: object, method: str) -> list[Stay]:
    """The blocking stays of a reservation list (cancelled ones dropped), sorted by date."""
    if reply is None:
        return []
    if not isinstance(reply, list):
        raise SyncFailure("kigo_error", f"Kigo {method} answered {type(reply).__name__} instead of a list")
    stays: dict[str, Stay] = {}
    for record in reply:
        stay, uid, _status = parse_reservation(record, method)
        if stay is not None:
            stays[uid] = stay
        else:
            stays.pop(uid, None)
    return sorted(stays.values(), key=lambda s: (s.check_in, s.uid))


def parse_diff(reply: object, prop_id: int, previous_diff_id: str | None) -> KigoDiff:
    """diffPropertyCalendarReservations' reply, kept to `prop_id` (the real diff is account-wide)."""
    method = "diffPropertyCalendarReservations"
    if reply is None:  # E_EMPTY: nothing changed, the old position still holds
        return KigoDiff(diff_id=previous_diff_id)
    if not isinstance(reply, dict):
        raise SyncFailure("kigo_error", f"Kigo {method} answered {type(reply).__name__} instead of an object")
    records = reply.get("RES_LIST") or []
    if not isinstance(records, list):
        raise SyncFailure("kigo_error", f"Kigo {method}: RES_LIST is {type(records).__name__}, not a list")
    changed: dict[str, Stay] = {}
    released: dict[str, None] = {}
    for record in records:
        if _other_property(record, prop_id, method):
            continue
        stay, uid, _status = parse_reservation(record, method)
        if stay is None:
            changed.pop(uid, None)
            released[uid] = None
        else:
            released.pop(uid, None)
            changed[uid] = stay
    new_id = reply.get("DIFF_ID")
    return KigoDiff(diff_id=previous_diff_id if new_id is None else str(new_id),
                    changed=sorted(changed.values(), key=lambda s: (s.check_in, s.uid)),
                    cancelled_uids=list(released))


def _other_property(record: object, prop_id: int, method: str) -> bool:
    """Whether a diff record names a property other than `prop_id` (records without PROP_ID are kept)."""
    return (isinstance(record, dict) and record.get("PROP_ID") is not None
            and kigo_id(record["PROP_ID"], f"Kigo {method}: PROP_ID") != prop_id)
