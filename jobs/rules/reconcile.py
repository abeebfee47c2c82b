"""Reconcile a feed's stays against the blocks we store, and hold suspicious removals.

Matching, in order:
1. by UID: the same UID means the same stay; new dates or summary -> updated (the block keeps its code);
2. by exact dates, for stays whose UID matched nothing: some generators regenerate UIDs on every fetch, so the
   same nights under a new UID are the same block -> updated with the new UID (code kept);
3. leftovers: future stays become new blocks (added), future blocks become removed.
Past blocks (check_out <= today) are history: never removed, and never changed by a past stay (feeds drop or edit
their past for their own reasons). A Vrbo date change (new UID, new dates) cannot be matched: remove + add.

Blocks of events the feed still has but we could not read (`keep_uids`, from ParsedFeed.unreadable_uids) are
kept exactly as stored, neither removed nor updated, and take no part in matching: a stay with the same UID is
not added again, and no other stay takes them over by dates. A kept UID `u` also covers blocks `u#yyyymmdd` (the
instances of a repeating event, or one of several events sharing that UID).

Suspicious-change guard (`guard_change`): a change is suspicious when, with future blocks stored, the feed's
future becomes empty, or the feed loses at least 3 future blocks and at least half of them in one sync (removals
not replaced by additions, so rolling Airbnb "Not available" ranges that move daily are not suspicious). A
suspicious change is held: its removals are not applied (additions and updates may be) until the same removal
(same set of removed codes) has been seen again on 2 later syncs and at least 2 hours after it was first seen, or
staff accept it (the held removal only: a different one seen by then is held afresh). A different result
(other removals, or nothing suspicious) resets the hold. So a genuine
cancellation of a 1-block calendar goes through after about 2 hours.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from jobs.rules.stays import Stay

HOLD_CONFIRMATIONS = 2  # later syncs that must repeat the same removal
HOLD_MIN_DURATION = timedelta(hours=2)
SUSPICIOUS_MIN_LOST = 3  # fewer lost blocks than this is ordinary churn (unless the feed empties)
SUSPICIOUS_MIN_SHARE = 0.5


@dataclass(frozen=True)
class StoredBlock:
    """An `EX-` block as stored for one link: nights [check_in, check_out)."""

    id: int
    code: str
    uid: str
    check_in: date
    check_out: date
    summary: str = ""


@dataclass
class ChangeSet:
    """What to do to a link's stored blocks so they match the feed."""

    added: list[Stay]
    updated: list[tuple[StoredBlock, Stay]]  # (block as stored, its new uid/dates/summary)
    removed: list[StoredBlock]
    unchanged: list[StoredBlock]

    @property
    def is_empty(self) -> bool:
        """True when applying this change set would change nothing."""
        return not (self.added or self.updated or self.removed)


def _stay_key(stay: Stay) -> tuple[date, date, str, str]:
    return (stay.check_in, stay.check_out, stay.uid, stay.summary)


def _block_key(block: StoredBlock) -> tuple[date, date, int]:
    return (block.check_in, block.check_out, block.id)


def _unique_valid_stays(stays: Sequence[Stay]) -> list[Stay]:
    """The feed's stays, first occurrence per UID, without empty or inverted date ranges."""
    seen: dict[str, Stay] = {}
    for stay in stays:
        if stay.check_out > stay.check_in and stay.uid not in seen:
            seen[stay.uid] = stay
    return sorted(seen.values(), key=_stay_key)


def _same(block: StoredBlock, stay: Stay) -> bool:
    return (block.uid, block.check_in, block.check_out, block.summary) == (
        stay.uid, stay.check_in, stay.check_out, stay.summary)


def reconcile_blocks(stored: Sequence[StoredBlock], stays: Sequence[Stay], today: date,
                     keep_uids: Collection[str] = ()) -> ChangeSet:
    """Compare stored blocks with a feed's stays; the result, applied, makes the future match the feed.

    keep_uids: UIDs of events the feed holds but that could not be read; their blocks are left as stored.
    """
    changes = ChangeSet(added=[], updated=[], removed=[], unchanged=[])
    keep_uids = frozenset(uid for uid in keep_uids if uid)
    if keep_uids:
        kept = [block for block in stored if _is_kept(block.uid, keep_uids)]
        if kept:
            changes.unchanged.extend(kept)
            kept_ids, kept_uids = {block.id for block in kept}, {block.uid for block in kept}
            stored = [block for block in stored if block.id not in kept_ids]
            stays = [stay for stay in stays if stay.uid not in kept_uids]
    # Future blocks first, then lowest id: if a UID was stored twice, the live one is matched.
    by_uid: dict[str, list[StoredBlock]] = defaultdict(list)
    for block in sorted(stored, key=lambda b: (b.check_out <= today, b.id)):
        by_uid[block.uid].append(block)
    matched: set[int] = set()
    unmatched_stays: list[Stay] = []

    for stay in _unique_valid_stays(stays):
        candidates = by_uid.get(stay.uid)
        if not candidates:
            unmatched_stays.append(stay)
            continue
        block = candidates.pop(0)
        matched.add(block.id)
        both_past = block.check_out <= today and stay.check_out <= today
        if both_past or _same(block, stay):
            changes.unchanged.append(block)
        else:
            changes.updated.append((block, stay))

    by_dates: dict[tuple[date, date], list[StoredBlock]] = defaultdict(list)
    for block in sorted(stored, key=lambda b: b.id):
        if block.id not in matched and block.check_out > today:
            by_dates[(block.check_in, block.check_out)].append(block)

    for stay in unmatched_stays:
        if stay.check_out <= today:
            continue  # the feed's history is not imported: we only protect future nights
        candidates = by_dates.get((stay.check_in, stay.check_out))
        if candidates:
            block = candidates.pop(0)
            matched.add(block.id)
            changes.updated.append((block, stay))
        else:
            changes.added.append(stay)

    for block in stored:
        if block.id in matched:
            continue
        if block.check_out > today:
            changes.removed.append(block)
        else:
            changes.unchanged.append(block)

    changes.added.sort(key=_stay_key)
    changes.updated.sort(key=lambda pair: _block_key(pair[0]))
    changes.removed.sort(key=_block_key)
    changes.unchanged.sort(key=_block_key)
    return changes


def _is_kept(uid: str, keep_uids: Collection[str]) -> bool:
    """Whether a block's UID is a kept UID, or an instance `uid#yyyymmdd` of one."""
    return bool(uid) and (uid in keep_uids or uid.rpartition("#")[0] in keep_uids)


@dataclass(frozen=True)
class HoldState:
    """What we remember about a held removal between syncs of one link."""

    first_seen_at: datetime | None
    confirmations: int  # later syncs that repeated the same removal
    fingerprint: str | None


@dataclass
class GuardDecision:
    """Whether to hold a change's removals, why, and the hold state to store (None = clear it)."""

    hold: bool
    reason: str
    state: HoldState | None


def removal_fingerprint(removed: Sequence[StoredBlock]) -> str:
    """A short stable digest of the set of removed block codes."""
    codes = "\n".join(sorted({block.code for block in removed}))
    return hashlib.sha256(codes.encode()).hexdigest()[:32]


def suspicious_reason(stored_future: int, changes: ChangeSet, today: date) -> str:
    """Why this change looks like a broken feed rather than cancellations; empty when it does not."""
    removed = sum(1 for block in changes.removed if block.check_out > today)
    if removed == 0 or stored_future <= 0:
        return ""
    added = sum(1 for stay in changes.added if stay.check_out > today)
    remaining = stored_future - removed + added
    if remaining <= 0:
        return (f"The calendar no longer shows any future stay, but {stored_future} future "
                f"block{'s' if stored_future != 1 else ''} were stored.")
    lost = removed - added
    if lost >= SUSPICIOUS_MIN_LOST and lost >= SUSPICIOUS_MIN_SHARE * stored_future:
        return f"The calendar lost {lost} of its {stored_future} future blocks at once."
    return ""


def guard_change(stored_future: int, changes: ChangeSet, today: date, previous: HoldState | None,
                 now: datetime, accepted_by_staff: bool, feed_doubt: str = "") -> GuardDecision:
    """Decide whether a change set's removals are held as suspicious or may be applied.

    feed_doubt: why the feed itself is suspect (ParsedFeed.doubt: most of its events cannot be read); the change
    is then held like an emptied feed, whatever it removes.
    """
    why = " ".join(part for part in (feed_doubt, suspicious_reason(stored_future, changes, today)) if part)
    if not why:
        return GuardDecision(hold=False, reason="", state=None)
    fingerprint = removal_fingerprint(changes.removed)
    # Staff accept the change they saw held: a different emptying by the time the sync runs is
    # held afresh.
    if accepted_by_staff and (previous is None or previous.fingerprint == fingerprint):
        return GuardDecision(hold=False, reason=f"{why} Accepted by staff.", state=None)
    if previous is None or previous.fingerprint != fingerprint or previous.first_seen_at is None:
        state = HoldState(first_seen_at=now, confirmations=0, fingerprint=fingerprint)
    else:
        state = replace(previous, confirmations=previous.confirmations + 1)
    held_for = now - (state.first_seen_at or now)
    if state.confirmations >= HOLD_CONFIRMATIONS and held_for >= HOLD_MIN_DURATION:
        return GuardDecision(hold=False, state=None, reason=(
            f"{why} Confirmed: seen on {state.confirmations + 1} syncs over {_hours(held_for)}."))
    return GuardDecision(hold=True, state=state, reason=(
        f"{why} Blocks kept until the same change is seen on {HOLD_CONFIRMATIONS + 1} syncs over at least "
        f"{_hours(HOLD_MIN_DURATION)} (seen {state.confirmations + 1} so far), or staff accept it."))


def held_change_set(changes: ChangeSet) -> ChangeSet:
    """The part of a held change set that is safe to apply: additions and updates, no removals."""
    unchanged = sorted([*changes.unchanged, *changes.removed], key=_block_key)
    return ChangeSet(added=list(changes.added), updated=list(changes.updated), removed=[], unchanged=unchanged)


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 10 else f"{hours:.0f} hours"
