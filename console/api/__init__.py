"""The JSON API (/api/v1) for the main site, the ranking service and operators' scripts: request
parsing and JSON answers around console.actions."""
from console.api import (  # noqa: F401
                         audit,
                         calendar_export,
                         description,
                         jobs,
                         kigo,
                         links,
                         overbookings,
                         owner_links,
                         properties,
                         reservations,  # importing registers the routes
                         scores,
)
from console.api.blueprint import api_bp

__all__ = ["api_bp"]
