"""API: kigo (being built)."""
