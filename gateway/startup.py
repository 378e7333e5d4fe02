"""Start-up checks: settings that cannot work together are refused before the server serves."""

from __future__ import annotations

from persistence.config import Settings

_SET_REDIS = "set MOVEHUB_REDIS_URL (e.g. redis://127.0.0.1:6379/0)"


class StartupRefused(RuntimeError):
    """These settings cannot serve correctly; the message says what to change."""


def event_streams_problem(settings: Settings, workers: int = 1) -> str | None:
    """Why the org event streams would not reach the sockets, or None when they will.

    Without Redis the streams are a buffer inside one process: only the gateway's own
    process may publish into them (with Ray off, the outbox worker runs there as a task).
    """
    if settings.redis_url:
        return None
    if workers > 1:
        return (
            f"MOVEHUB_REDIS_URL is empty, so the event streams live inside one process, "
            f"but --workers {workers} starts {workers} processes that cannot share them: "
            f"{_SET_REDIS}, or serve with --workers 1 and MOVEHUB_RAY_ENABLED=false"
        )
    if settings.ray_enabled:
        return (
            "MOVEHUB_REDIS_URL is empty, so the event streams live inside the gateway's "
            "process, but with Ray on the outbox worker that publishes assignments and "
            "status changes runs in a Ray process: drivers and boards would never see "
            f"them. Either {_SET_REDIS}, or set MOVEHUB_RAY_ENABLED=false to run "
            "everything in this one process"
        )
    return None


def refuse_unworkable(settings: Settings, workers: int = 1) -> None:
    """Raise StartupRefused when the settings cannot serve correctly."""
    problem = event_streams_problem(settings, workers)
    if problem is not None:
        raise StartupRefused(problem)
