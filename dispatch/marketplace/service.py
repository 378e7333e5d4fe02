"""Use case: marketplace offers — every shard answers at once, the best organizations win."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from dispatch.assignment.schemas import Offer, OfferRequest
from dispatch.errors import ValidationFailed

MAX_WINDOW = timedelta(hours=14)


class OffersPort(Protocol):
    async def offers(self, spec: dict[str, Any]) -> list[dict[str, Any]]: ...


async def best_offers(
    request: OfferRequest, fleet: OffersPort, limit: int = 10, now: datetime | None = None
) -> list[Offer]:
    now = now or datetime.now(UTC)
    if request.window_start.tzinfo is None or request.window_end.tzinfo is None:
        raise ValidationFailed("window times need a timezone offset", field="window_start")
    if request.window_start <= now:
        raise ValidationFailed("the window must start in the future", field="window_start")
    if not timedelta(0) < request.window_end - request.window_start <= MAX_WINDOW:
        raise ValidationFailed("the window must end after it starts, within 14 hours", field="window_end")
    spec = {
        **request.model_dump(exclude={"window_start", "window_end"}),
        "start": request.window_start.timestamp(),
        "end": request.window_end.timestamp(),
    }
    found = await fleet.offers(spec)
    found.sort(key=lambda o: (o["price_cents"], -o["rating"], o["earliest_start"]))
    return [
        Offer(**{**o, "earliest_start": datetime.fromtimestamp(o["earliest_start"], UTC)})
        for o in found[:limit]
    ]
