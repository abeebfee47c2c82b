"""API: the Kigo properties an owner's account shares with us, so staff pick instead of typing ids."""
from __future__ import annotations

from flask import jsonify, request

from console.actions.kigo import account_properties
from console.actions.links import KIGO_CODE_MAX
from console.api.blueprint import api_bp
from console.api.validate import invalid


@api_bp.get("/kigo/properties")
def kigo_properties():
    """The Kigo properties shared with us by account `kigo_code`, and which of ours each feeds."""
    code = (request.args.get("kigo_code") or "").strip()
    if not code:
        raise invalid("kigo_code", "is required (the owner's Kigo account code)", "missing_field")
    if len(code) > KIGO_CODE_MAX:
        raise invalid("kigo_code", f"must be at most {KIGO_CODE_MAX} characters")
    items = account_properties(code)
    return jsonify(kigo_code=code, items=items, total=len(items))
