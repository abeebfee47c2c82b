"""Digests: what a recipient in hourly or daily mode gets in one message, and the managers' weekly digest
of overbookings and score movers."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from console.extensions import db
from console.models import Notification, NotificationDelivery, Overbooking, Property, ScoreSnapshot
from console.timeutil import utcnow
from jobs.notify.routing import Target
from jobs.notify.store import raise_notification

SCORE_MOVERS = 10


def flush_digests(now: datetime) -> list[Notification]:
    """One digest per recipient whose digest window ended, listing every notice it holds."""
    rows = db.session.execute(select(NotificationDelivery, Notification)
                              .join(Notification, Notification.id == NotificationDelivery.notification_id)
                              .where(NotificationDelivery.state == "digest",
                                     NotificationDelivery.next_attempt_at <= now)
                              .order_by(Notification.created_at, Notification.id)).all()
    groups: dict[tuple[str, str, str], list] = {}
    for delivery, note in rows:
        groups.setdefault((delivery.channel, delivery.recipient, delivery.audience), []).append((delivery, note))
    notes = []
    for (channel, recipient, audience), items in groups.items():
        lines = [f"{len(items)} notice(s) since {items[0][1].created_at:%Y-%m-%d %H:%M} UTC:", ""]
        lines += [f"- {n.created_at:%H:%M} {n.title}" for _d, n in items]
        base = current_app.config["PUBLIC_BASE_URL"]
        lines += ["", f"Every notification: {base}/notifications/"]
        digest = raise_notification("digest", f"Digest: {len(items)} alert(s)", body="\n".join(lines), now=now,
                                    audience=audience, details={"items": [n.id for _d, n in items]},
                                    targets=[Target(channel, recipient, audience,
                                                    recipient_id=items[0][0].recipient_id)])
        for delivery, _n in items:
            delivery.state, delivery.digest_id = "batched", digest.id if digest else None
        notes.append(digest)
    return notes


def _score_movers(since: datetime) -> list[tuple[str, int, int]]:
    """(property, score a week ago, score now) of the properties whose score moved most."""
    newest = select(ScoreSnapshot.property_id, func.max(ScoreSnapshot.computed_at).label("at")) \
        .group_by(ScoreSnapshot.property_id).subquery()
    older = select(ScoreSnapshot.property_id, func.max(ScoreSnapshot.computed_at).label("at")) \
        .where(ScoreSnapshot.computed_at <= since).group_by(ScoreSnapshot.property_id).subquery()

    def scores(sub) -> dict[int, int]:
        return dict(db.session.execute(select(ScoreSnapshot.property_id, ScoreSnapshot.score).join(
            sub, (sub.c.property_id == ScoreSnapshot.property_id) & (sub.c.at == ScoreSnapshot.computed_at))).all())
    now_scores, old_scores = scores(newest), scores(older)
    names = dict(db.session.execute(select(Property.id, Property.name)).all())
    moves = [(names.get(pid, str(pid)), old_scores[pid], score) for pid, score in now_scores.items()
             if pid in old_scores and old_scores[pid] != score]
    return sorted(moves, key=lambda m: -abs(m[2] - m[1]))[:SCORE_MOVERS]


def weekly_digest(now: datetime | None = None) -> int:
    """The managers' weekly digest (once per ISO week); the number of deliveries it made."""
    now = now or utcnow()
    since = now - timedelta(days=7)
    obs = db.session.execute(select(Overbooking, Property.name).join(Property, Property.id == Overbooking.property_id)
                             .where(Overbooking.detected_at >= since).order_by(Overbooking.detected_at)).all()
    counting = sum(1 for ob, _n in obs if ob.counts_against_owner)
    lines = [f"Overbookings this week: {len(obs)} ({counting} counting against the owner)."]
    lines += [f"- {ob.detected_at:%a %d %b} {name}: {ob.nights} night(s) from {ob.first_night}, "
              f"{'counts' if ob.counts_against_owner else 'does not count'}" for ob, name in obs]
    movers = _score_movers(since)
    lines += ["", "Score movers:" if movers else "No score moved."]
    lines += [f"- {name}: {old} -> {new} ({new - old:+d})" for name, old, new in movers]
    year, week, _ = now.isocalendar()
    note = raise_notification("weekly_digest", f"Weekly digest: {len(obs)} overbooking(s), {len(movers)} score movers",
                              body="\n".join(lines), now=now, audience="managers",
                              dedup_key=f"weekly:{year}-W{week:02d}")
    db.session.commit()
    if note is None:
        return 0
    from jobs.notify.deliver import enqueue_deliveries
    enqueue_deliveries([d.id for d in note.deliveries if d.state == "pending"])
    return len(note.deliveries)
