"""Socket limits that need no server: the invalid-frame leaky bucket, and `movehub serve`
passing the websocket keepalive from the settings to uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
import uvicorn

from gateway.cli import _serve
from gateway.realtime.connection import INVALID_WINDOW_S, MAX_INVALID, LeakyBucket
from persistence.config import Settings, get_settings


def test_a_burst_over_the_capacity_overflows() -> None:
    bucket = LeakyBucket(MAX_INVALID, INVALID_WINDOW_S, now=100.0)
    assert not any(bucket.add(now=100.0) for _ in range(MAX_INVALID))
    assert bucket.add(now=100.0)


def test_the_odd_invalid_frame_over_a_long_life_never_overflows() -> None:
    """A clock near the skew limit: one invalid ping every 5 s for a day (a lifetime count
    closed such a driver after its 21st)."""
    bucket = LeakyBucket(MAX_INVALID, INVALID_WINDOW_S, now=0.0)
    assert not any(bucket.add(now=5.0 * n) for n in range(24 * 720))


def test_a_steady_stream_of_invalid_frames_overflows_within_about_a_window() -> None:
    bucket = LeakyBucket(MAX_INVALID, INVALID_WINDOW_S, now=0.0)
    times = [n * 0.5 for n in range(1000)]  # two a second: above the 1 per 3 s it forgets
    first = next(t for t in times if bucket.add(now=t))
    assert 0 < first <= INVALID_WINDOW_S


def test_serve_passes_the_keepalive_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.setattr(get_settings(), "ws_ping_interval_s", 7.0)
    monkeypatch.setattr(get_settings(), "ws_ping_timeout_s", 17.0)
    _serve(argparse.Namespace(host="127.0.0.1", port=0, workers=1))
    assert (seen["ws_ping_interval"], seen["ws_ping_timeout"]) == (7.0, 17.0)


def test_the_keepalive_outlasts_a_blocked_send_by_default() -> None:
    defaults = Settings.model_fields
    assert defaults["ws_ping_timeout_s"].default > defaults["ws_send_timeout_s"].default
