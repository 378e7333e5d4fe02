"""Client frames of both sockets (docs/realtime-protocol.md), validated with Pydantic."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from persistence.config import get_settings
from persistence.statuses import DRIVER_JOB_STATUSES

FUTURE_SKEW_S = 5.0
# A Literal built from the group, so a frame's schema and its errors name exactly the statuses
# a driver may send; a type checker cannot read a computed Literal, so it sees a string.
if TYPE_CHECKING:
    DriverJobStatus = str
else:
    DriverJobStatus = Literal[tuple(status.value for status in DRIVER_JOB_STATUSES)]


class Frame(BaseModel):
    """Strict: an unknown field or a number sent as a string is a client bug to report, not to
    guess at (an int for a float is fine; strict mode allows it). Ids stay lax below: JSON has
    no UUID type, and the frame is validated from decoded Python values."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def device_ts(ts: float) -> float:
    """A device timestamp: not more than FUTURE_SKEW_S ahead of the server's clock, and not
    older than MOVEHUB_PING_MAX_AGE_S (an offline queue's backlog is sent within that)."""
    now = time.time()
    if ts > now + FUTURE_SKEW_S:
        raise ValueError("ts is in the future")
    max_age = get_settings().ping_max_age_s
    if ts < now - max_age:
        raise ValueError(f"ts is more than {max_age:g} s old")
    return ts


class Ping(Frame):
    type: Literal["ping"]
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    heading: float | None = Field(default=None, ge=0, le=360)
    speed: float | None = Field(default=None, ge=0, le=100)
    accuracy: float | None = Field(default=None, ge=0)
    ts: float

    @field_validator("ts")
    @classmethod
    def _recent(cls, ts: float) -> float:
        return device_ts(ts)


class StatusChange(Frame):
    type: Literal["status"]
    booking_id: uuid.UUID = Field(strict=False)
    status: DriverJobStatus
    ref: str | None = Field(default=None, max_length=200)
    # When the driver made the change (device epoch seconds): a change kept in the app's
    # offline queue carries it; stored in the status history's metadata as `device_ts`.
    ts: float | None = None

    @field_validator("ts")
    @classmethod
    def _recent(cls, ts: float | None) -> float | None:
        return None if ts is None else device_ts(ts)


class Heartbeat(Frame):
    type: Literal["heartbeat"]


class Resume(Frame):
    type: Literal["resume"]
    since: int = Field(ge=0)
    epoch: str | None = Field(default=None, max_length=64)  # of the stream `since` is in


DriverFrame = Annotated[Ping | StatusChange | Heartbeat, Field(discriminator="type")]
BoardFrame = Annotated[Heartbeat | Resume, Field(discriminator="type")]
DRIVER_FRAMES: TypeAdapter[Ping | StatusChange | Heartbeat] = TypeAdapter(DriverFrame)
BOARD_FRAMES: TypeAdapter[Heartbeat | Resume] = TypeAdapter(BoardFrame)
DRIVER_TYPES = frozenset({"ping", "status", "heartbeat"})
BOARD_TYPES = frozenset({"heartbeat", "resume"})


class BadFrame(Exception):
    """The frame cannot be read at all (close 1003) or names an unknown type (close 4400)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class InvalidFrame(Exception):
    """A known type with bad fields: answered with an error frame, the socket stays open."""

    def __init__(self, detail: str, ref: Any = None) -> None:
        super().__init__(detail)
        self.detail, self.ref = detail, ref


def decode(text: str, adapter: TypeAdapter[Any], known: frozenset[str]) -> Any:
    """One client frame: JSON object with a known `type`, validated."""
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadFrame(1003, "invalid JSON") from exc
    if not isinstance(raw, dict):
        raise BadFrame(1003, "a frame must be a JSON object")
    kind = raw.get("type")
    if kind not in known:
        raise BadFrame(4400, f"unknown message type {str(kind)[:40]!r}")
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        ref = raw.get("ref") if isinstance(raw.get("ref"), str | int) else None
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "frame"
        raise InvalidFrame(f"{where}: {first['msg']}", ref) from exc
