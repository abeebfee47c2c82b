"""The audit trail: recording one entry per change (trail), and reading entries back (search)."""
