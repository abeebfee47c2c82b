"""Who hears what: the config's recipients (ALERT_EMAIL_TO, the webhooks), the ones staff added, and every
active staff or admin user (the staff audience, at their login e-mail, in their own digest mode)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from console.extensions import db
from console.models import AlertRecipient, User

STAFF_ROLES = ("staff", "admin")
# The audiences each kind goes to (the owner only when ALERT_NOTIFY_OWNERS is on, see evaluate).
AUDIENCES_OF = {
    "held_change": ("team", "staff"),
    "overbooking": ("team", "staff"),
    "provider_incident": ("team", "staff", "tech"),
    "incident_resolved": ("team", "staff", "tech"),
    "kigo_auth": ("tech",),
    "kigo_auth_resolved": ("tech",),
    "weekly_digest": ("managers",),
}


@dataclass(frozen=True)
class Target:
    """One recipient on one channel, with how it wants to be told."""

    channel: str
    address: str
    audience: str = "team"
    digest_mode: str = "immediate"
    quiet: tuple[int | None, int | None] = (None, None)
    zone: str = "UTC"
    secret: str | None = None
    recipient_id: int | None = None


def _emails(raw: str | None) -> list[str]:
    return [a.strip() for a in (raw or "").split(",") if a.strip()]


def config_targets(audience: str, config) -> list[Target]:
    """The recipients the environment names for an audience."""
    if audience == "managers":
        return [Target("email", a, audience) for a in _emails(config.get("ALERT_MANAGER_EMAIL_TO"))]
    if audience == "tech":
        emails = _emails(config.get("ALERT_TECH_EMAIL_TO") or config.get("ALERT_EMAIL_TO"))
    elif audience == "team":
        emails = _emails(config.get("ALERT_EMAIL_TO"))
    else:
        return []
    found = [Target("email", a, audience) for a in emails]
    if config.get("ALERT_SLACK_WEBHOOK_URL"):
        found.append(Target("slack", config["ALERT_SLACK_WEBHOOK_URL"], audience))
    if config.get("ALERT_WEBHOOK_URL"):
        found.append(Target("webhook", config["ALERT_WEBHOOK_URL"], audience,
                            secret=config.get("ALERT_WEBHOOK_SECRET")))
    return found


def stored_targets(audience: str) -> list[Target]:
    """The active recipients staff added for an audience."""
    rows = db.session.execute(select(AlertRecipient).filter_by(audience=audience, active=True)
                              .order_by(AlertRecipient.id)).scalars()
    return [Target(r.channel, r.address, r.audience, r.digest_mode, (r.quiet_start_hour, r.quiet_end_hour),
                   r.timezone or "UTC", r.secret, r.id) for r in rows]


def user_targets(audience: str) -> list[Target]:
    """Active staff and admin users hear the staff audience without being added by hand (unless "off")."""
    if audience != "staff":
        return []
    rows = db.session.execute(select(User).where(User.active.is_(True), User.role.in_(STAFF_ROLES),
                                                 User.alert_digest_mode != "off").order_by(User.id)).scalars()
    return [Target("email", u.email, "staff", u.alert_digest_mode) for u in rows]


def targets_for(kind: str, config, audiences: tuple[str, ...] | None = None) -> list[Target]:
    """Every recipient of a kind, once per (channel, address): a recipient staff added wins over a console
    user of the same address, who wins over the config's."""
    seen, found = set(), []
    for audience in audiences or AUDIENCES_OF.get(kind, ("team",)):
        for target in stored_targets(audience) + user_targets(audience) + config_targets(audience, config):
            if (target.channel, target.address) not in seen:
                seen.add((target.channel, target.address))
                found.append(target)
    return found
