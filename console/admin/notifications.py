"""Console page of alerts: what was noticed, sent to whom, through which channel, delivered or why not;
and the settings (recipients, channels with "send a test", thresholds, digest modes)."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import exists, select

from console.actions.errors import ActionError
from console.actions.notifications import (
    USER_DIGEST_MODES,
    add_recipient,
    remove_recipient,
    retry_delivery,
    save_thresholds,
    send_test,
    set_user_digest,
)
from console.admin.base import ConsoleView
from console.extensions import db
from console.models import AlertIncident, AlertRecipient, Notification, NotificationDelivery, Property, User
from console.models.notifications import AUDIENCES, CHANNELS, DELIVERY_STATES
from jobs.notify.routing import STAFF_ROLES
from jobs.notify.thresholds import THRESHOLDS, stored, thresholds
from jobs.rules.alerts import DIGEST_MODES, KINDS

PAGE_SIZE = 100


def alert_history(property_id: int | None = None, link_id: int | None = None, limit: int = 20) -> list:
    """The newest notifications of a property or a link, with their deliveries."""
    query = select(Notification).order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    if property_id is not None:
        query = query.where(Notification.property_id == property_id)
    if link_id is not None:
        query = query.where(Notification.link_id == link_id)
    return list(db.session.execute(query).scalars())


def _filters() -> dict:
    args = request.args
    return {"kind": args.get("kind") if args.get("kind") in KINDS else None,
            "state": args.get("state") if args.get("state") in DELIVERY_STATES else None,
            "channel": args.get("channel") if args.get("channel") in CHANNELS else None,
            "property_id": args.get("property_id", type=int), "link_id": args.get("link_id", type=int),
            "urgent": {"true": True, "false": False}.get(args.get("urgent", ""))}


class NotificationsView(ConsoleView):
    """The Notifications page, with filters; staff send tests and retry; admins manage recipients."""

    @expose("/")
    def index(self):
        """Notifications newest first, filtered by kind, delivery state, channel, property, link, urgency."""
        f = _filters()
        query = select(Notification, Property.name).outerjoin(Property, Property.id == Notification.property_id)
        for field in ("kind", "property_id", "link_id"):
            if f[field] is not None:
                query = query.where(getattr(Notification, field) == f[field])
        if f["urgent"] is not None:
            query = query.where(Notification.urgent.is_(f["urgent"]))
        if f["state"] or f["channel"]:
            d = NotificationDelivery
            match = [d.notification_id == Notification.id] + ([d.state == f["state"]] if f["state"] else []) \
                + ([d.channel == f["channel"]] if f["channel"] else [])
            query = query.where(exists().where(*match))
        rows = db.session.execute(query.order_by(Notification.created_at.desc(), Notification.id.desc())
                                  .limit(PAGE_SIZE)).all()
        incidents = db.session.execute(select(AlertIncident).filter_by(state="open")).scalars().all()
        return self.render("notifications/index.html", rows=rows, filters=f, kinds=KINDS,
                           states=DELIVERY_STATES, channels=CHANNELS, incidents=incidents,
                           smtp=bool(current_app.config.get("SMTP_URL")), can_act=current_user.can("staff"))

    @expose("/deliveries/<int:delivery_id>/retry", methods=["POST"])
    def retry(self, delivery_id: int):
        """Staff send a failed delivery again."""
        if not current_user.can("staff"):
            abort(403)
        try:
            retry_delivery(delivery_id)
            flash(f"Delivery {delivery_id} queued again.", "success")
        except ActionError as err:
            flash(err.message, "error")
        return redirect(url_for(".index"))

    @expose("/settings")
    def settings(self):
        """Recipients, channels (send a test), thresholds and digest modes."""
        recipients = db.session.execute(select(AlertRecipient).order_by(AlertRecipient.id)).scalars().all()
        staff = db.session.execute(select(User).where(User.role.in_(STAFF_ROLES), User.active.is_(True))
                                   .order_by(User.email)).scalars().all()
        return self.render("notifications/settings.html", recipients=recipients, config=current_app.config,
                           staff_users=staff, user_modes=USER_DIGEST_MODES, thresholds=THRESHOLDS,
                           in_force=thresholds(current_app.config), stored=stored(),
                           channels=CHANNELS, audiences=AUDIENCES, modes=DIGEST_MODES,
                           can_act=current_user.can("staff"), can_admin=current_user.can("admin"))

    @expose("/settings/test", methods=["POST"])
    def test(self):
        """Staff send a test notification through one channel."""
        if not current_user.can("staff"):
            abort(403)
        try:
            delivery_id = send_test(request.form.get("channel", ""), request.form.get("address"),
                                    current_user.email)
            flash(f"Test queued (delivery {delivery_id}): see its outcome on the Notifications page.", "success")
        except ActionError as err:
            flash(err.message, "error")
        return redirect(url_for(".settings"))

    @expose("/settings/recipients", methods=["POST"])
    def add(self):
        """Admins add a recipient."""
        if not current_user.can("admin"):
            abort(403)
        form = request.form
        try:
            add_recipient(form.get("channel", ""), form.get("address"), form.get("audience", "team"),
                          form.get("digest_mode", "immediate"), form.get("quiet_start"), form.get("quiet_end"),
                          form.get("timezone") or "UTC", form.get("secret"))
            flash("Recipient added.", "success")
        except ActionError as err:
            flash(err.message, "error")
        return redirect(url_for(".settings"))

    @expose("/settings/recipients/<int:recipient_id>/remove", methods=["POST"])
    def remove(self, recipient_id: int):
        """Admins remove a recipient."""
        if not current_user.can("admin"):
            abort(403)
        try:
            remove_recipient(recipient_id)
            flash("Recipient removed.", "success")
        except ActionError as err:
            flash(err.message, "error")
        return redirect(url_for(".settings"))

    @expose("/settings/users/<int:user_id>/digest", methods=["POST"])
    def user_digest(self, user_id: int):
        """Admins set any staff user's digest mode for staff alerts; a user sets their own."""
        if not (current_user.can("admin") or current_user.id == user_id):
            abort(403)
        try:
            user = set_user_digest(user_id, request.form.get("digest_mode", ""))
            flash(f"{user.email} hears staff alerts: {user.alert_digest_mode}.", "success")
        except ActionError as err:
            flash(err.message, "error")
        return redirect(url_for(".settings"))

    @expose("/settings/thresholds", methods=["POST"])
    def save_thresholds(self):
        """Admins change the thresholds (stored in the database; the environment's value otherwise)."""
        if not current_user.can("admin"):
            abort(403)
        try:
            changed = save_thresholds(request.form, current_user.email)
            flash(f"Thresholds saved: {', '.join(changed)}." if changed else "No threshold changed.", "success")
        except ActionError as err:
            flash(err.message, "error")
        return redirect(url_for(".settings"))
