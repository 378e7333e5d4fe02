"""Routes: marketplace offers for a customer's move, from every shard at once."""

from __future__ import annotations

from fastapi import APIRouter, Request

from dispatch.assignment.schemas import Offer, OfferRequest
from dispatch.errors import Unavailable
from dispatch.marketplace.service import best_offers
from gateway.deps import CurrentCaller

router = APIRouter(tags=["marketplace"])


@router.post("/marketplace/offers", response_model=list[Offer])
async def offers(payload: OfferRequest, _: CurrentCaller, request: Request) -> list[Offer]:
    """Organizations whose area covers the pickup, with a free verified driver and truck in the
    window: price, rating and earliest start, cheapest first."""
    fleet = request.app.state.fleet
    if fleet is None:
        raise Unavailable("offers need the Ray fleet, which this server was started without")
    return await best_offers(payload, fleet)
