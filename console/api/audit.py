"""API: the audit trail (admins only), oldest first in keyset pages. It has no route that changes an entry."""
from __future__ import annotations

from flask import jsonify, request

from console.api.blueprint import api_bp, requires
from console.api.validate import query_int
from console.audit.search import entry_json, page_after, parse_filters, whole_number

PAGE_SIZE = 100


@api_bp.get("/audit")
@requires("admin")
def list_audit():
    """Entries matching ?actor=&action=&property_id=&from=&to=, after ?after_id= (ascending ids); the
    `next_after_id` to ask for the next page, null when this page holds the last entry so far."""
    filters = parse_filters(request.args)
    after_id = whole_number(request.args.get("after_id"), "after_id")
    limit = query_int("limit", PAGE_SIZE, maximum=1000)
    rows, next_after_id = page_after(filters, after_id, limit)
    return jsonify(items=[entry_json(entry) for entry in rows], next_after_id=next_after_id)
