"""Pure domain rules (stays, reconcile and its guard, detect, risk, score, advice, the sync schedule by value): imports nothing but the standard library."""
