"""The console a person uses: Flask-Admin mounted at /, built per app inside the factory."""
from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme


def build_admin(app: Flask) -> Admin:
    """A fresh Admin with the console's views (new objects for every app: flask-admin #910)."""
    from console.admin.api_docs import ApiDocsView
    from console.admin.audit import AuditView
    from console.admin.dashboard import DashboardView
    from console.admin.jobs import mount_jobs_dashboard
    from console.admin.kigo import KigoView
    from console.admin.notifications import NotificationsView
    from console.admin.overbookings import OverbookingsView
    from console.admin.properties import PropertiesView
    from console.admin.tokens import TokensView
    admin = Admin(app, name="Calendar Sync Console", url="/",
                  index_view=DashboardView(name="Dashboard", url="/", endpoint="admin"),
                  theme=Bootstrap4Theme(swatch="cerulean", fluid=True,
                                        base_template="console/base.html"))
    admin.add_view(PropertiesView(name="Properties", endpoint="properties", url="/properties"))
    admin.add_view(OverbookingsView(name="Overbookings", endpoint="overbookings",
                                    url="/overbookings"))
    admin.add_view(KigoView(name="Kigo", endpoint="kigo", url="/kigo"))
    admin.add_view(NotificationsView(name="Notifications", endpoint="notifications", url="/notifications"))
    admin.add_view(TokensView(name="API tokens", endpoint="tokens", url="/tokens"))
    admin.add_view(AuditView(name="Audit", endpoint="audit", url="/audit"))
    admin.add_view(ApiDocsView(name="API", endpoint="api_docs", url="/api-docs"))
    mount_jobs_dashboard(app, admin)
    app.extensions["csc_admin"] = admin
    return admin
