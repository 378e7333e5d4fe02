"""The one settings object: every knob of MoveHub, read from the environment and `.env`."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOVEHUB_", env_file=".env", extra="ignore")

    # development and test tolerate the shipped secrets (see insecure_settings); others refuse.
    environment: Literal["development", "test", "staging", "production"] = "development"
    log_level: str = "INFO"
    log_json: bool = True

    # Database: the owner role runs migrations, the app role is subject to row-level security.
    database_url: str = "postgresql+asyncpg://movehub_app:movehub_app@127.0.0.1:5432/movehub"
    owner_database_url: str = "postgresql+asyncpg://movehub_owner:movehub_owner@127.0.0.1:5432/movehub"
    admin_database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    db_pool_size: int = 10
    db_max_overflow: int = 20
    # All gateway workers of one `movehub serve --workers N` together hold at most this many
    # connections (each worker's pool + overflow is cut to its share, see pool_budget); keep
    # it under PostgreSQL's max_connections minus the outbox, scheduler, Ray shards and
    # admin sessions. For more clients than the server takes, put PgBouncer in front (README).
    db_connection_budget: int = Field(default=40, ge=1)
    gateway_workers: int = Field(default=1, ge=1)  # set by `movehub serve --workers N`
    # No pre-ping round trip per checkout: connections older than this are replaced instead.
    db_pool_recycle_s: float = 1800.0
    # Outages (issue 10.5): an unreachable database is answered with 503 within seconds.
    db_connect_timeout_s: float = 3.0  # asyncpg connect, handshake included
    db_pool_timeout_s: float = 5.0  # waiting for a pooled connection when all are busy
    outage_retry_after_s: int = 5  # Retry-After of a 503 while PostgreSQL/Redis is unreachable
    # Past one database machine (issue 13.5, docs/scaling.md): analytics reads through this
    # URL (a streaming replica, app role, read-only transactions); empty: the primary.
    analytics_database_url: str = ""
    # The breadcrumb trail is partitioned by UTC day: the scheduler keeps this many days ahead
    # and drops the partitions of days older than the retention.
    positions_retention_days: int = Field(default=30, ge=1)
    positions_partitions_ahead_days: int = Field(default=7, ge=1)

    # Redis for rate limits, caches and event streams (the run command starts it). Empty
    # means in-process streams, refused at start unless Ray is off (gateway/startup.py).
    redis_url: str = "redis://127.0.0.1:6379/0"

    # API rate limits (gateway/ratelimit.py) in `limits` notation. Each route class has a
    # budget per signed-in user and a larger one per client IP (offices and carrier NAT share
    # an address); ";" joins the burst allowance (the per-second limit) to the sustained rate.
    rate_limit_enabled: bool = True
    rate_limit_auth: str = "5/second;30/minute"
    rate_limit_auth_ip: str = "10/second;120/minute"
    rate_limit_read: str = "30/second;1200/minute"
    rate_limit_read_ip: str = "150/second;6000/minute"
    rate_limit_write: str = "30/second;600/minute"
    rate_limit_write_ip: str = "100/second;3000/minute"
    rate_limit_upload: str = "2/second;30/minute"
    rate_limit_upload_ip: str = "10/second;300/minute"
    rate_limit_quote: str = "5/second;60/minute"
    rate_limit_quote_ip: str = "20/second;600/minute"
    # A Redis call of the limiter slower than this falls back to the process's own counts,
    # and Redis is tried again after rate_limit_redis_retry_s.
    rate_limit_redis_timeout_s: float = 0.25
    rate_limit_redis_retry_s: float = 5.0
    # Redis caches (persistence/cache.py): bounded Redis waits, then read through to the DB.
    cache_redis_timeout_s: float = 0.25
    cache_redis_retry_s: float = 2.0  # after a failure, cache reads skip Redis this long
    org_terms_cache_ttl_s: int = 300
    # An organization being edited is read from the database this long after the edit began
    # (its transaction commits well within it), so no reader caches the old terms again.
    org_terms_dirty_s: int = 30

    # Ray: empty address starts a local Ray; otherwise join the cluster.
    ray_address: str = Field(default="", validation_alias="RAY_ADDRESS")
    ray_enabled: bool = True
    ray_namespace: str = "movehub"
    # Fleet routing (actors/slots.py): organizations hash onto fleet_slots slots (fixed for
    # the cluster's life); fleet_shards is the shard count a new cluster starts with (then
    # `movehub shards scale N`); a call waits at most fleet_move_wait_s for a slot's move.
    fleet_slots: int = Field(default=256, ge=1, le=65_536)
    fleet_shards: int = Field(default=2, ge=1)
    fleet_move_wait_s: float = Field(default=10.0, gt=0)
    # Above 0: the directory checks this often for shard nodes without a shard (joined since)
    # and rebalances onto them; 0: only `movehub shards rebalance` does.
    fleet_rebalance_interval_s: float = Field(default=0.0, ge=0)
    # The outbox worker and the scheduler; tests drive them directly instead.
    background_workers: bool = True

    # Auth
    jwt_secret: str = "dev-only-change-me-please-0123456789abcdef"
    jwt_issuer: str = "movehub"
    jwt_audience: str = "movehub-api"
    jwt_algorithm: str = "HS256"
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    # Sessions that end (dispatch/auth/revocation.py): how stale a "still signed in?" answer
    # may be per process, how long Redis keeps the database's answer, how long a Redis call
    # may take before the check reads PostgreSQL, and how often open sockets are re-checked.
    session_check_cache_s: float = 1.0
    session_state_ttl_s: int = 60
    session_redis_timeout_s: float = 0.25
    ws_session_recheck_s: float = 5.0
    otp_ttl_s: int = 5 * 60
    otp_max_attempts: int = 5
    otp_requests_per_hour: int = 5
    otp_ip_requests_per_hour: int = 30
    otp_failures_per_account_hour: int = 100
    cookie_secure: bool = True
    cors_origins: list[str] = []
    # Secure defaults (insecure_settings): keys the HMAC digests of OTP codes, refresh tokens
    # and rate-limit subjects, apart from the JWT key so rotating one does not void the other.
    digest_secret: str = "dev-only-digest-key-change-me-0123456789abcdef"
    # GET /metrics: Prometheus sends `Authorization: Bearer <token>`; empty = loopback in
    # development/test only, 404 elsewhere.
    metrics_token: str = ""

    # Dispatch scoring weights
    weight_distance: float = 1.0
    weight_rating: float = 5.0
    weight_fairness: float = 2.0
    weight_idle: float = 0.5
    average_speed_kmh: float = 40.0
    # Day planning with chains (VROOM): at most this many drivers, this long per solve.
    plan_chain_max_drivers: int = 200
    plan_chain_time_limit_s: float = 1.0
    geofence_radius_m: float = 150.0
    # The fleet board draws a projected frame with no tiles; a raster tile URL template
    # ({z}/{x}/{y}) may be set for machines with a tile server.
    board_tile_url: str = ""

    # Integrations: empty keys select the local defaults.
    stripe_api_key: str = ""
    stripe_webhook_secret: str = "whsec_dev"
    stripe_api_base: str = ""
    stripe_webhook_tolerance_s: int = 300
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = "+15550000000"
    twilio_api_base: str = ""
    sendgrid_api_key: str = ""
    sendgrid_api_base: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    notification_timeout_s: float = 10.0
    email_from: str = "no-reply@movehub.local"
    # File storage: "local" keeps files under storage_dir behind HMAC-signed URLs served by
    # the gateway; "s3" uses the bucket (s3_endpoint_url for MinIO/moto; empty keys fall back
    # to boto3's own credential chain).
    storage_backend: Literal["local", "s3"] = "local"
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    storage_dir: str = "var/storage"
    storage_signing_secret: str = "dev-storage-secret"
    public_base_url: str = "http://127.0.0.1:8000"
    max_upload_bytes: int = 10 * 1024 * 1024
    # Uploads through the API itself (multipart) are for small files; bigger ones go direct.
    direct_upload_max_bytes: int = 2 * 1024 * 1024
    upload_url_ttl_s: int = 600
    download_url_ttl_s: int = 120

    # Ratings and the outbox worker. One retry policy for every topic (notifications, refund
    # sends, invoice PDFs, fleet updates): a failed row waits base * 2^(tries-1) capped at max,
    # jittered, and is dead after max_attempts tries (a permanent failure at once). A claimed
    # row is leased: a worker that died mid-send gives its rows back after outbox_lease_s.
    rating_edit_window_days: int = 7
    outbox_batch_size: int = 50
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_backoff_base_s: float = Field(default=5.0, gt=0)
    outbox_backoff_max_s: float = Field(default=3600.0, gt=0)
    outbox_lease_s: float = Field(default=300.0, gt=0)
    outbox_poll_interval_s: float = 2.0
    booking_reminder_lead_h: int = 24

    # Real-time gateway (docs/realtime-protocol.md): sockets, micro-batching, board ticks.
    ws_max_message_bytes: int = 16 * 1024
    ws_idle_timeout_s: float = 60.0
    ws_max_msgs_per_s: float = 20.0
    ws_allowed_origins: list[str] = []  # cookie-authenticated sockets; public_base_url always
    ws_send_timeout_s: float = 10.0
    # Websocket keepalive (uvicorn's pings, passed by `movehub serve`): no pong within the
    # timeout cuts the socket. Longer than ws_send_timeout_s, so a board that stalls long
    # enough to block the server gets the documented 1013 before the keepalive gives up.
    ws_ping_interval_s: float = 20.0
    ws_ping_timeout_s: float = 30.0
    ingest_batch_ms: float = 50.0
    ingest_unbatched_allowed: bool = False  # the benchmark's one-call-per-ping baseline
    # Driver pings: the oldest ts accepted (an offline queue's backlog; older is invalid) and
    # how often the driver app sends one while on duty (told to it in `hello`).
    ping_max_age_s: float = Field(default=3600.0, gt=0)
    driver_ping_interval_s: float = Field(default=2.0, gt=0)
    board_tick_ms: float = 100.0
    board_queue_frames: int = 64  # per board; when full the board is dropped to a snapshot
    # Boards of one org connecting within this window share one snapshot build (connect storms).
    board_snapshot_ttl_s: float = 0.5
    events_max_per_org: int = 10_000
    late_grace_s: float = 300.0
    # ETA to a job's next stop (dispatch/tracking/rules.py): straight line x road factor over
    # the driver's smoothed speed, the default speed until it has one; the customer is told
    # "about N minutes away" once when it drops below eta_notify_minutes. Tracking links in
    # notifications are signed with digest_secret and expire after tracking_link_ttl_s.
    eta_road_factor: float = Field(default=1.3, ge=1.0)
    eta_default_speed_kmh: float = Field(default=30.0, gt=0)
    eta_notify_minutes: float = Field(default=10.0, gt=0)
    tracking_link_ttl_s: int = Field(default=4 * 3600, gt=0)
    trail_flush_s: float = 1.0
    trail_min_interval_s: float = 5.0  # breadcrumb resolution per driver
    realtime_stats_enabled: bool = False  # GET /realtime/stats (benchmarks)
    # Python's default (700) runs a young collection every few hundred allocations.
    gc_gen0_threshold: int = 20_000


@lru_cache
def get_settings() -> Settings:
    return Settings()


def pool_budget(settings: Settings) -> tuple[int, int]:
    """(pool_size, max_overflow) of one process's engine: the configured pool, cut to this
    worker's share of db_connection_budget when `serve --workers N` runs several."""
    share = max(1, settings.db_connection_budget // settings.gateway_workers)
    pool_size = min(settings.db_pool_size, share)
    return pool_size, max(0, min(settings.db_max_overflow, share - pool_size))


def worker_environment() -> dict[str, str]:
    """The MOVEHUB_* (and OTEL_*: traces) variables, for Ray worker processes to see the same
    settings."""
    return {k: v for k, v in os.environ.items() if k.startswith(("MOVEHUB_", "OTEL_"))}


# Secure by default: outside these environments the server refuses insecure_settings().
RELAXED_ENVIRONMENTS = frozenset({"development", "test"})
MIN_SECRET_BYTES = 32
# Passwords this repository has shipped in URLs (defaults, docs, the old compose file).
SHIPPED_DB_PASSWORDS = frozenset({"movehub_app", "movehub_owner", "postgres"})
_DATABASE_URLS = ("database_url", "owner_database_url", "admin_database_url", "analytics_database_url")


def _env_name(field: str) -> str:
    return f"MOVEHUB_{field.upper()}"


def _key_problem(settings: Settings, field: str, *, min_bytes: int = MIN_SECRET_BYTES) -> str | None:
    """Why a secret key is unfit: the shipped default, empty, or shorter than min_bytes."""
    value: str = getattr(settings, field)
    if value == Settings.model_fields[field].default:
        return "is the shipped default"
    if not value:
        return "is empty"
    if len(value.encode()) < min_bytes:
        return f"is weak: {len(value.encode())} bytes, at least {min_bytes} needed"
    return None


def _database_url_problem(url: str) -> str | None:
    """A shipped password (or one equal to the role name); no password is left to the server."""
    try:
        parts = urlsplit(url)
        username, password = unquote(parts.username or ""), unquote(parts.password or "")
    except ValueError:
        return None  # not ours to judge here: connecting will fail loudly
    if password and (password in SHIPPED_DB_PASSWORDS or password == username):
        return f"carries the shipped password of role {username!r}"
    return None


def insecure_settings(settings: Settings) -> list[str]:
    """Every secret that must not serve real traffic, each as 'MOVEHUB_X is/carries ...'.

    Pure: the caller decides (refuse outside RELAXED_ENVIRONMENTS, warn in development).
    The webhook secret has no length rule (Stripe issues it) but must be set: the webhook
    route is always served, and a signature under an empty key is anyone's to make.
    """
    problems = {field: _key_problem(settings, field) for field in ("jwt_secret", "digest_secret")}
    if settings.storage_backend == "local":  # s3 signs with the bucket's own credentials
        problems["storage_signing_secret"] = _key_problem(settings, "storage_signing_secret")
    problems["stripe_webhook_secret"] = _key_problem(settings, "stripe_webhook_secret", min_bytes=1)
    if settings.metrics_token:  # optional: empty keeps /metrics closed
        problems["metrics_token"] = _key_problem(settings, "metrics_token")
    for field in _DATABASE_URLS:
        problems[field] = _database_url_problem(getattr(settings, field))
    return [f"{_env_name(field)} {why}" for field, why in problems.items() if why]


class InsecureSettings(RuntimeError):
    """Raised at start-up outside development/test while insecure_settings() is not empty."""


def refuse_insecure_settings(settings: Settings) -> list[str]:
    """Raise InsecureSettings where secrets must be real; otherwise the problems to warn of."""
    problems = insecure_settings(settings)
    if problems and settings.environment not in RELAXED_ENVIRONMENTS:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise InsecureSettings(
            f"refusing to start in environment {settings.environment!r} with insecure "
            f"settings:\n{listing}\nSet each to a random value of at least "
            f"{MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`); see .env.example."
        )
    return problems
