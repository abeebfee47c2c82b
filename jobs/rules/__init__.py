"""Pure domain rules (stays, reconcile and its guard, detect, risk, score, advice): imports nothing but the standard library."""
