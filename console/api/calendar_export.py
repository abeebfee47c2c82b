"""API: calendar_export (being built)."""
