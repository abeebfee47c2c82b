"""Settings read once from the environment, with embedded defaults that work on a laptop."""
from __future__ import annotations

import os
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _int(env: dict, name: str, default: int, minimum: int = 0) -> int:
    """Read an integer variable strictly: a typo should fail loudly at start, not silently."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: dict, name: str, default: bool) -> bool:
    """Read a yes/no variable strictly (1/0, true/false, yes/no, on/off)."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _str(env: dict, name: str, default: str | None) -> str | None:
    """Read a string variable; empty means unset."""
    raw = env.get(name)
    return raw.strip() if raw and raw.strip() else default


def _hour(env: dict, name: str) -> int | None:
    """An optional hour of the day (0-23); unset is None."""
    if not (env.get(name) or "").strip():
        return None
    value = _int(env, name, 0)
    if value > 23:
        raise ValueError(f"{name} must be an hour from 0 to 23, got {value}")
    return value


def _check_allow_hosts(raw: str) -> None:
    """A malformed FETCH_ALLOW_HOSTS stops the app at start, like any other bad setting."""
    from jobs.fetch.addresses import AllowList  # the list's one parser; its errors name the variable
    AllowList.parse(raw)


def _networks(name: str, raw: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """A comma-separated list of IP addresses and CIDRs, parsed once; or stop at start naming the
    variable."""
    found = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            found.append(ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not an IP address or network") from None
    return tuple(found)


def engine_options(url: str, timeout: int) -> dict:
    """Engine options that bound every wait on the database by `timeout` seconds."""
    options: dict = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        options["connect_args"] = {"timeout": timeout}  # the busy timeout on a locked file
    elif url.startswith("postgresql"):
        options["pool_timeout"] = timeout
        options["connect_args"] = {"connect_timeout": timeout,
                                   "options": f"-c lock_timeout={timeout * 1000}"}
    return options


class Config:
    """Production-capable settings; every variable of docs/configuration.md with its default."""

    TESTING = False

    def __init__(self, env: dict | None = None, instance_path: str | os.PathLike | None = None):
        env = dict(os.environ if env is None else env)
        self.INSTANCE_PATH = str(Path(instance_path or _str(env, "INSTANCE_PATH", None)
                                      or BASE_DIR / "instance").resolve())
        self.SQLALCHEMY_DATABASE_URI = _str(
            env, "DATABASE_URL", f"sqlite:///{self.INSTANCE_PATH}/console.db")
        # Heroku-style URLs still say postgres://, which SQLAlchemy 2 refuses.
        if self.SQLALCHEMY_DATABASE_URI.startswith("postgres://"):
            self.SQLALCHEMY_DATABASE_URI = "postgresql://" + self.SQLALCHEMY_DATABASE_URI[11:]
        self.REDIS_URL = _str(env, "REDIS_URL", None)
        self.SECRET_KEY = _str(env, "SECRET_KEY", None)  # None: generated once under instance/
        self.SYNC_INTERVAL_MINUTES = _int(env, "SYNC_INTERVAL_MINUTES", 15, minimum=1)
        # The schedule by value (docs/schedule.md): SYNC_INTERVAL_MINUTES stays the fleet's mean, each
        # link between these bounds (a provider's own minimum, Retry-After and backoff win).
        self.SYNC_MIN_INTERVAL_MINUTES = _int(env, "SYNC_MIN_INTERVAL_MINUTES", 2, minimum=1)
        self.SYNC_MAX_INTERVAL_MINUTES = _int(env, "SYNC_MAX_INTERVAL_MINUTES", 60, minimum=1)
        self.FETCH_TIMEOUT_SECONDS = _int(env, "FETCH_TIMEOUT_SECONDS", 15, minimum=1)
        # A test of a link ("Test" in the console, POST /links/<id>/test) answers within this.
        self.DRY_RUN_TIMEOUT_SECONDS = _int(env, "DRY_RUN_TIMEOUT_SECONDS",
                                            self.FETCH_TIMEOUT_SECONDS + 10, minimum=1)
        # Fresh availability (?fresh=1): links read successfully this recently are not read again,
        # and the answer comes within the timeout from whatever was read by then.
        self.AVAILABILITY_FRESH_MAX_AGE_SECONDS = _int(env, "AVAILABILITY_FRESH_MAX_AGE_SECONDS", 60)
        self.AVAILABILITY_FRESH_TIMEOUT_SECONDS = _int(env, "AVAILABILITY_FRESH_TIMEOUT_SECONDS", 3,
                                                       minimum=1)
        self.FETCH_MAX_BYTES = _int(env, "FETCH_MAX_BYTES", 10_485_760, minimum=1024)
        self.FETCH_CONCURRENCY = _int(env, "FETCH_CONCURRENCY", 32, minimum=1)
        self.FETCH_PER_HOST_LIMIT = _int(env, "FETCH_PER_HOST_LIMIT", 8, minimum=1)
        self.FETCH_ALLOW_HOSTS = _str(env, "FETCH_ALLOW_HOSTS", "") or ""
        _check_allow_hosts(self.FETCH_ALLOW_HOSTS)
        self.PUBLIC_BASE_URL = (_str(env, "PUBLIC_BASE_URL", "http://127.0.0.1:5000")
                                or "").rstrip("/")
        self.KIGO_API_URL = _str(env, "KIGO_API_URL", "https://app.kigo.net/api/ra/v1")
        self.KIGO_API_USERNAME = _str(env, "KIGO_API_USERNAME", None)
        self.KIGO_API_PASSWORD = _str(env, "KIGO_API_PASSWORD", None)
        # The channels API form (www.kigoapis.com) authenticates with a subscription key instead.
        self.KIGO_API_SUBSCRIPTION_KEY = _str(env, "KIGO_API_SUBSCRIPTION_KEY", None)
        self.KIGO_MAX_RETRIES = _int(env, "KIGO_MAX_RETRIES", 2)
        self.KIGO_RETRY_BACKOFF_SECONDS = _int(env, "KIGO_RETRY_BACKOFF_SECONDS", 1)
        self.KIGO_MAX_RETRY_WAIT_SECONDS = _int(env, "KIGO_MAX_RETRY_WAIT_SECONDS", 10)
        self.DEMO_FEEDS = _bool(env, "DEMO_FEEDS", False)
        self.SYNC_RUN_RETENTION_DAYS = _int(env, "SYNC_RUN_RETENTION_DAYS", 90, minimum=1)
        self.AUDIT_RETENTION_DAYS = _int(env, "AUDIT_RETENTION_DAYS", 400, minimum=1)  # the audit trail's age
        # Alerts (jobs/notify): without SMTP_URL every notification is kept in the database and shown.
        self.SMTP_URL = _str(env, "SMTP_URL", None)
        self.SMTP_FROM = _str(env, "SMTP_FROM", "alerts@only-apartments.com")
        self.SMTP_TIMEOUT_SECONDS = _int(env, "SMTP_TIMEOUT_SECONDS", 20, minimum=1)
        self.ALERT_EMAIL_TO = _str(env, "ALERT_EMAIL_TO", "property@only-apartments.com")
        self.ALERT_TECH_EMAIL_TO = _str(env, "ALERT_TECH_EMAIL_TO", None)  # kigo_auth; unset: ALERT_EMAIL_TO
        self.ALERT_MANAGER_EMAIL_TO = _str(env, "ALERT_MANAGER_EMAIL_TO", None)  # the weekly digest
        self.ALERT_AFTER_FAILURES = _int(env, "ALERT_AFTER_FAILURES", 3, minimum=1)
        self.ALERT_REMINDER_HOURS = _int(env, "ALERT_REMINDER_HOURS", 24, minimum=1)
        self.ALERT_WEBHOOK_URL = _str(env, "ALERT_WEBHOOK_URL", None)
        self.ALERT_WEBHOOK_SECRET = _str(env, "ALERT_WEBHOOK_SECRET", None)
        self.ALERT_SLACK_WEBHOOK_URL = _str(env, "ALERT_SLACK_WEBHOOK_URL", None)
        self.ALERT_NOTIFY_OWNERS = _bool(env, "ALERT_NOTIFY_OWNERS", False)
        # Where the owner status page sends owners with a question (no e-mail address on that page).
        self.OWNER_CONTACT_URL = _str(env, "OWNER_CONTACT_URL", "https://www.only-apartments.com/contact")
        self.ALERT_INCIDENT_MIN_LINKS = _int(env, "ALERT_INCIDENT_MIN_LINKS", 20, minimum=1)
        self.ALERT_INCIDENT_MIN_PERCENT = _int(env, "ALERT_INCIDENT_MIN_PERCENT", 20, minimum=1)
        self.ALERT_INCIDENT_WINDOW_MINUTES = _int(env, "ALERT_INCIDENT_WINDOW_MINUTES", 15, minimum=1)
        # Default quiet hours of recipients without their own (urgent notices are never held back).
        self.ALERT_QUIET_START_HOUR = _hour(env, "ALERT_QUIET_START_HOUR")
        self.ALERT_QUIET_END_HOUR = _hour(env, "ALERT_QUIET_END_HOUR")
        self.ALERT_QUIET_TIMEZONE = _str(env, "ALERT_QUIET_TIMEZONE", "UTC")
        # A work horse past this much resident memory is stopped and its links' attempts recorded.
        self.SYNC_MAX_MEMORY_MB = _int(env, "SYNC_MAX_MEMORY_MB", 1024, minimum=64)
        # Proxies in front of the app whose X-Forwarded-For is trusted (login limits per address).
        self.TRUSTED_PROXY_HOPS = _int(env, "TRUSTED_PROXY_HOPS", 0)
        self.LOGIN_MAX_FAILURES = _int(env, "LOGIN_MAX_FAILURES", 5, minimum=1)
        self.LOGIN_WINDOW_SECONDS = _int(env, "LOGIN_WINDOW_SECONDS", 900, minimum=1)
        # /metrics answers these addresses (and any caller with METRICS_TOKEN as a bearer token).
        self.METRICS_ALLOW_HOSTS = _str(env, "METRICS_ALLOW_HOSTS", "127.0.0.1,::1") or ""
        self.METRICS_ALLOW_NETWORKS = _networks("METRICS_ALLOW_HOSTS", self.METRICS_ALLOW_HOSTS)
        self.METRICS_TOKEN = _str(env, "METRICS_TOKEN", None)
        # A locked or unreachable database answers within this many seconds (a 503), never 30.
        self.DB_TIMEOUT_SECONDS = _int(env, "DB_TIMEOUT_SECONDS", 5, minimum=1)
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI,
                                                        self.DB_TIMEOUT_SECONDS)
        # Jobs run in the process that queues them, one by one, instead of on a worker (tests).
        self.RQ_INLINE = _bool(env, "RQ_INLINE", False)
        # How far GET /api/v1/scores' watermark stays behind the start of a pass (console/api/scores.py).
        self.SCORES_WATERMARK_LAG_SECONDS = _int(env, "SCORES_WATERMARK_LAG_SECONDS", 600)
        # How often the scheduler sweeps for lost syncs (dead workers, jobs Redis lost): a lost sync
        # is recorded or queued again within this plus a worker's heartbeat silence (docs/operations-faults.md).
        self.LOST_SYNC_SWEEP_SECONDS = _int(env, "LOST_SYNC_SWEEP_SECONDS", 30, minimum=1)
        # A scheduled batch streams (jobs/batches.py): it claims links falling due for this long, or
        # for the shorter time when a person's sync or an alert waits for its worker.
        self.SYNC_STREAM_SECONDS = _int(env, "SYNC_STREAM_SECONDS", 60)
        self.SYNC_STREAM_YIELD_SECONDS = _int(env, "SYNC_STREAM_YIELD_SECONDS", 15)
        self.WTF_CSRF_TIME_LIMIT = None
        self.FLASK_ADMIN_SWATCH = "cerulean"


class TestConfig(Config):
    """Settings for the test suite: a throwaway instance folder, CSRF on as in production."""

    TESTING = True
    __test__ = False  # not a pytest test class

    def __init__(self, env: dict | None = None, instance_path=None):
        super().__init__(env, instance_path)
        self.WTF_CSRF_ENABLED = True
        self.FETCH_ALLOW_HOSTS = self.FETCH_ALLOW_HOSTS or "127.0.0.1,localhost"
