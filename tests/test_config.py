"""Settings: documented defaults, strict parsing, and no side effects when the app is built."""
import pytest

from config import Config
from console import create_app


def test_contract_defaults(tmp_path):
    cfg = Config(env={}, instance_path=tmp_path)
    assert f"sqlite:///{tmp_path}/console.db" == cfg.SQLALCHEMY_DATABASE_URI
    assert cfg.REDIS_URL is None and cfg.SECRET_KEY is None
    assert (cfg.SYNC_INTERVAL_MINUTES, cfg.FETCH_TIMEOUT_SECONDS, cfg.FETCH_MAX_BYTES) == (
        15, 15, 10485760)
    assert (cfg.FETCH_CONCURRENCY, cfg.FETCH_PER_HOST_LIMIT) == (32, 8)
    assert cfg.FETCH_ALLOW_HOSTS == "" and cfg.PUBLIC_BASE_URL == "http://127.0.0.1:5000"
    assert cfg.KIGO_API_URL == "https://app.kigo.net/api/ra/v1"
    assert cfg.KIGO_API_USERNAME is None and cfg.KIGO_API_PASSWORD is None


def test_environment_values_are_parsed(tmp_path):
    cfg = Config(env={"SYNC_INTERVAL_MINUTES": " 5 ", "FETCH_ALLOW_HOSTS": "127.0.0.1",
                      "DATABASE_URL": "postgres://u@h/db", "PUBLIC_BASE_URL": "https://x.io/"},
                 instance_path=tmp_path)
    assert cfg.SYNC_INTERVAL_MINUTES == 5 and cfg.FETCH_ALLOW_HOSTS == "127.0.0.1"
    assert cfg.SQLALCHEMY_DATABASE_URI == "postgresql://u@h/db"
    assert cfg.PUBLIC_BASE_URL == "https://x.io"


def test_settings_read_elsewhere_are_declared_here_typed(tmp_path):
    cfg = Config(env={}, instance_path=tmp_path)
    assert cfg.RQ_INLINE is False and cfg.SCORES_WATERMARK_LAG_SECONDS == 600
    assert [str(n) for n in cfg.METRICS_ALLOW_NETWORKS] == ["127.0.0.1/32", "::1/128"]
    cfg = Config(env={"RQ_INLINE": "yes", "SCORES_WATERMARK_LAG_SECONDS": "60",
                      "METRICS_ALLOW_HOSTS": "10.0.0.0/8, 192.0.2.7"}, instance_path=tmp_path)
    assert cfg.RQ_INLINE is True and cfg.SCORES_WATERMARK_LAG_SECONDS == 60
    assert [str(n) for n in cfg.METRICS_ALLOW_NETWORKS] == ["10.0.0.0/8", "192.0.2.7/32"]
    assert not hasattr(cfg, "JSON_SORT_KEYS")  # Flask 3.1 ignores it: app.json.sort_keys decides


@pytest.mark.parametrize("name,value", [("SYNC_INTERVAL_MINUTES", "abc"),
                                        ("FETCH_MAX_BYTES", "-1"), ("DEMO_FEEDS", "maybe"),
                                        ("FETCH_ALLOW_HOSTS", "127.0.0.1:port"),
                                        ("METRICS_ALLOW_HOSTS", "127.0.0.1, nowhere"),
                                        ("RQ_INLINE", "sometimes"),
                                        ("SCORES_WATERMARK_LAG_SECONDS", "-1")])
def test_malformed_values_fail_loudly_naming_the_variable(tmp_path, name, value):
    with pytest.raises(ValueError, match=name):
        Config(env={name: value}, instance_path=tmp_path)


def test_building_the_app_connects_to_nothing(tmp_path):
    app = create_app(Config(env={"REDIS_URL": "redis://127.0.0.1:1/0",
                                 "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
                            instance_path=tmp_path))
    assert "csc_redis" not in app.extensions  # Redis is reached on first use only
    assert not (tmp_path / "redis.sock").exists()


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = create_app(Config(env={}, instance_path=tmp_path)).config["SECRET_KEY"]
    second = create_app(Config(env={}, instance_path=tmp_path)).config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
