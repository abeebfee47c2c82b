"""API: scores (being built)."""
