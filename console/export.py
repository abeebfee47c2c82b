"""The public export feed at a property's secret export_url (being built)."""
from flask import Blueprint

export_bp = Blueprint("export", __name__)
