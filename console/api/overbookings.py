"""API: overbookings (being built)."""
