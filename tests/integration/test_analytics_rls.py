"""Analytics' defense in depth and migration 0017's gated participant policies: staff read
only their organization even through a query that names no organization, and the booking
history is still visible to its booking's customer and assigned driver, and to no one else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import Range

from persistence.models import Booking, BookingAssignment, BookingStatusHistory
from persistence.repositories.analytics import AnalyticsRepository, Window
from persistence.session import SYSTEM, Caller, analytics_session, tenant_session
from persistence.statuses import BookingStatus
from tests.factories import make_booking, make_driver, make_org, make_truck, make_user

DAY = datetime(2035, 3, 9, 9, tzinfo=UTC)  # a day of this module's own


def _window() -> Window:
    return Window(
        org_id=None,
        start=DAY - timedelta(hours=9),
        end=DAY + timedelta(hours=15),
        timezone="UTC",
        first_day=DAY.date(),
        last_day=DAY.date(),
    )


async def test_staff_count_only_their_organization_without_an_org_predicate() -> None:
    mine, theirs = await make_org(), await make_org()
    customer = await make_user("customer")
    await make_booking(mine, customer, start=DAY, status="completed", price_cents=100)
    await make_booking(theirs, customer, start=DAY, status="completed", price_cents=700)
    await make_booking(theirs, customer, start=DAY, status="cancelled", price_cents=50)
    staff = Caller(role="dispatcher", user_id=(await make_user("dispatcher", mine)).id, org_id=mine.id)
    # org_id=None: the statement names no organization; row-level security alone scopes it
    async with analytics_session(staff) as session:
        rows = await AnalyticsRepository(session).bookings_by_status_and_currency(_window())
    assert [(status, count, price) for status, _, count, price in rows] == [
        (BookingStatus.COMPLETED.value, 1, 100)
    ]
    async with analytics_session(Caller(role="platform_admin")) as session:
        rows = await AnalyticsRepository(session).bookings_by_status_and_currency(_window())
    mine_and_theirs = sorted((status, count, price) for status, _, count, price in rows)
    assert mine_and_theirs == [
        (BookingStatus.CANCELLED.value, 1, 50),
        (BookingStatus.COMPLETED.value, 2, 800),
    ]


async def _history_seen_by(caller: Caller, booking: Booking) -> int:
    async with tenant_session(caller) as session:
        rows = (
            await session.execute(
                select(BookingStatusHistory.id).where(BookingStatusHistory.booking_id == booking.id)
            )
        ).all()
        return len(rows)


async def test_booking_history_visible_to_its_participants_only() -> None:
    org, other = await make_org(), await make_org()
    customer, stranger = await make_user("customer"), await make_user("customer")
    booking = await make_booking(org, customer, start=DAY + timedelta(days=1))
    driver, idle = await make_driver(org), await make_driver(org)
    truck = await make_truck(org)
    async with tenant_session(SYSTEM) as session:
        session.add_all(
            [
                BookingAssignment(
                    org_id=org.id,
                    booking_id=booking.id,
                    driver_id=driver.id,
                    truck_id=truck.id,
                    window=Range(booking.window_start, booking.window_end),
                ),
                BookingStatusHistory(
                    booking_id=booking.id,
                    org_id=org.id,
                    from_status=BookingStatus.EN_ROUTE,
                    to_status=BookingStatus.ARRIVED,
                    actor_role="driver",
                ),
            ]
        )
    seen = {
        "customer": Caller(role="customer", user_id=customer.id),
        "driver": Caller(role="driver", org_id=org.id, driver_id=driver.id),
        "staff": Caller(role="dispatcher", org_id=org.id),
        "admin": Caller(role="platform_admin"),
    }
    unseen = {
        "stranger": Caller(role="customer", user_id=stranger.id),
        "idle driver": Caller(role="driver", org_id=org.id, driver_id=idle.id),
        "other staff": Caller(role="mover_admin", org_id=other.id),
    }
    for name, caller in seen.items():
        assert await _history_seen_by(caller, booking) == 1, name
    for name, caller in unseen.items():
        assert await _history_seen_by(caller, booking) == 0, name
