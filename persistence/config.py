"""The one settings object: every knob of MoveHub, read from the environment and `.env`."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOVEHUB_", env_file=".env", extra="ignore")

    environment: str = "development"
    log_level: str = "INFO"
    log_json: bool = True

    # Database: the owner role runs migrations, the app role is subject to row-level security.
    database_url: str = "postgresql+asyncpg://movehub_app:movehub_app@127.0.0.1:5432/movehub"
    owner_database_url: str = "postgresql+asyncpg://movehub_owner:movehub_owner@127.0.0.1:5432/movehub"
    admin_database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    db_pool_size: int = 10
    db_max_overflow: int = 20

    # Redis for rate limits, caches and event streams; empty means in-process defaults.
    redis_url: str = ""

    # Ray: empty address starts a local Ray; otherwise join the cluster.
    ray_address: str = Field(default="", validation_alias="RAY_ADDRESS")
    ray_enabled: bool = True
    ray_namespace: str = "movehub"
    fleet_shards: int = Field(default_factory=lambda: os.cpu_count() or 2)
    # The outbox worker and the scheduler; tests drive them directly instead.
    background_workers: bool = True

    # Auth
    jwt_secret: str = "dev-only-change-me-please-0123456789abcdef"
    jwt_issuer: str = "movehub"
    jwt_audience: str = "movehub-api"
    jwt_algorithm: str = "HS256"
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    otp_ttl_s: int = 5 * 60
    otp_max_attempts: int = 5
    otp_requests_per_hour: int = 5
    otp_ip_requests_per_hour: int = 30
    otp_failures_per_account_hour: int = 100
    cookie_secure: bool = True
    cors_origins: list[str] = []

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
    refund_max_attempts: int = 6
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

    # Ratings and the outbox worker
    rating_edit_window_days: int = 7
    outbox_batch_size: int = 50
    outbox_max_attempts: int = 8
    outbox_backoff_base_s: float = 5.0
    outbox_backoff_max_s: float = 3600.0
    outbox_lease_s: float = 300.0
    outbox_poll_interval_s: float = 2.0
    booking_reminder_lead_h: int = 24

    # Real-time gateway (docs/realtime-protocol.md): sockets, micro-batching, board ticks.
    ws_max_message_bytes: int = 16 * 1024
    ws_idle_timeout_s: float = 60.0
    ws_max_msgs_per_s: float = 20.0
    ws_allowed_origins: list[str] = []  # cookie-authenticated sockets; public_base_url always
    ws_send_timeout_s: float = 10.0
    ingest_batch_ms: float = 50.0
    ingest_unbatched_allowed: bool = False  # the benchmark's one-call-per-ping baseline
    board_tick_ms: float = 100.0
    board_queue_frames: int = 64  # per board; when full the board is dropped to a snapshot
    # Boards of one org connecting within this window share one snapshot build (connect storms).
    board_snapshot_ttl_s: float = 0.5
    events_max_per_org: int = 10_000
    late_grace_s: float = 300.0
    trail_flush_s: float = 1.0
    trail_min_interval_s: float = 5.0  # breadcrumb resolution per driver
    realtime_stats_enabled: bool = False  # GET /realtime/stats (benchmarks)
    # Python's default (700) runs a young collection every few hundred allocations.
    gc_gen0_threshold: int = 20_000


@lru_cache
def get_settings() -> Settings:
    return Settings()


def worker_environment() -> dict[str, str]:
    """The MOVEHUB_* variables, for Ray worker processes to see the same settings."""
    return {k: v for k, v in os.environ.items() if k.startswith("MOVEHUB_")}
