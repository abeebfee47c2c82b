"""The Kigo client, its replies read into stays, and the account reads built on both: may import jobs.rules, never Flask, a database or console."""
