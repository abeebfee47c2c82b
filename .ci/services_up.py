"""Exit 0 when PostgreSQL (database `test`) and Redis answer on their standard local ports."""
import sys

try:
    import psycopg
    import redis
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=3) as conn:
        conn.execute("SELECT 1")
    redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=3).ping()
except Exception as exc:  # noqa: BLE001 - any failure means "not available"
    print(f"services not available: {exc}")
    sys.exit(1)
