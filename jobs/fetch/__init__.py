"""The safe fetcher (public-address rule, pinned connections, per-host limits, link URL checks): may import jobs.rules, never Flask, a database or console."""
