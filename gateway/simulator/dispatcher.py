"""The simulator playing each org's dispatcher (`--auto-assign`): confirm pending bookings and
auto-assign the confirmed ones over the public API, so the simulated crews have work."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import UTC, datetime

import httpx

from gateway.simulator.roster import dispatcher_tokens
from gateway.simulator.session import Stats
from persistence.config import Settings
from persistence.statuses import BookingStatus

# What a dispatcher still has to act on: confirm it (pending), then assign a crew.
TO_DISPATCH = [BookingStatus.PENDING.value, BookingStatus.CONFIRMED.value]


async def auto_assign(
    options: argparse.Namespace, codes: list[str], stats: Stats, stop: asyncio.Event, settings: Settings
) -> None:
    """Every `options.auto_assign` seconds, confirm each org's pending bookings and
    auto-assign the confirmed ones."""
    async with httpx.AsyncClient(base_url=options.url.rstrip("/") + "/api/v1", timeout=30) as http:
        while not stop.is_set():
            for code, token in (await dispatcher_tokens(codes, settings)).items():
                headers = {"Authorization": f"Bearer {token}"}
                try:
                    page = await http.get(
                        "/bookings",
                        headers=headers,
                        params={
                            "status": TO_DISPATCH,
                            "limit": 20,
                            "window_from": datetime.now(UTC).isoformat(),
                        },
                    )
                    for booking in page.json().get("items", []) if page.is_success else []:
                        if booking["status"] == BookingStatus.PENDING:
                            await http.post(f"/bookings/{booking['id']}/confirm", headers=headers)
                        answer = await http.post(f"/bookings/{booking['id']}/assign/auto", headers=headers)
                        if answer.status_code == 201:
                            stats.auto_assigned += 1
                        elif answer.status_code != 409:
                            stats.errors[f"auto-assign {answer.status_code} ({code})"] += 1
                except httpx.HTTPError as exc:
                    stats.errors[f"auto-assign {type(exc).__name__}"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), options.auto_assign)
