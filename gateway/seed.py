"""`movehub seed`: idempotent demo data in a synthetic Berlin — movers, fleets, customers, jobs.

Everything goes through the same use cases the API calls (onboarding, staff invites, trucks,
booking), so demo rows carry their history and outbox events like real ones. Run it again at
any time: existing organizations and accounts are kept; missing bookings for today and
tomorrow are topped up.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from shapely.affinity import scale
from shapely.geometry import Point, mapping

from dispatch.auth.tokens import issue_access_token
from dispatch.bookings.schemas import BookingCreate, Stop
from dispatch.bookings.service import book
from dispatch.fleet.schemas import TruckCreate
from dispatch.fleet.trucks import add as add_truck
from dispatch.kit.geo import GeoJsonArea, GeoPoint, point_of
from dispatch.lifecycle.service import apply_transition
from dispatch.organizations.schemas import OrganizationCreate, StaffInvite
from dispatch.organizations.service import onboard
from dispatch.organizations.staff import invite
from persistence.config import get_settings
from persistence.models import Organization, User
from persistence.repositories.bookings import BookingRepository
from persistence.repositories.organizations import OrganizationRepository
from persistence.repositories.seed import SeedRepository
from persistence.repositories.users import UserRepository
from persistence.session import SYSTEM, Caller, dispose_engine, tenant_session
from persistence.statuses import BookingStatus

CENTER = (13.405, 52.52)
DOMAIN = "movehub.example"
# name, code, base offset from the centre (degrees lon, lat), service radius in km
MOVERS = [
    ("Spree Movers", "SPREE", (0.0, 0.0), 12.0),
    ("Tiergarten Transport", "TIERGARTEN", (-0.06, 0.0), 9.0),
    ("Kreuzberg Kisten", "KREUZBERG", (0.02, -0.03), 8.0),
    ("Pankow Packers", "PANKOW", (0.01, 0.05), 9.0),
    ("Neukoelln Umzuege", "NEUKOELLN", (0.04, -0.05), 8.0),
    ("Charlottenburg Carriers", "CHARLOTTE", (-0.11, -0.005), 10.0),
]
STREETS = [
    "Torstrasse",
    "Invalidenstrasse",
    "Karl-Marx-Allee",
    "Kantstrasse",
    "Sonnenallee",
    "Schoenhauser Allee",
    "Bergmannstrasse",
    "Frankfurter Allee",
    "Hermannstrasse",
]
FIRST = [
    "Jonas",
    "Mia",
    "Leon",
    "Emma",
    "Paul",
    "Hanna",
    "Felix",
    "Lena",
    "Noah",
    "Clara",
    "Elias",
    "Marie",
    "Ben",
    "Sophie",
    "Finn",
    "Lea",
]
LAST = ["Weber", "Koch", "Schulz", "Becker", "Wolf", "Richter", "Klein", "Neumann"]
CUSTOMERS = 10
KM_PER_DEGREE_LAT = 111.2
# The printed board link signs its holder in as a demo dispatcher for this long.
DEMO_LINK_TTL_S = 12 * 3600


@dataclass
class SeedReport:
    organizations: list[tuple[str, str, int, int, int]] = field(default_factory=list)
    created_orgs: int = 0
    created_bookings: int = 0
    logins: dict[str, str] = field(default_factory=dict)


def service_area(lon: float, lat: float, radius_km: float) -> GeoJsonArea:
    """A circle on the ground: a lon/lat ellipse stretched by 1/cos(latitude)."""
    degrees = radius_km / KM_PER_DEGREE_LAT
    circle = scale(
        Point(lon, lat).buffer(degrees, 32),
        xfact=1 / math.cos(math.radians(lat)),
        yfact=1.0,
        origin=(lon, lat),
    )
    geojson = mapping(circle)
    return GeoJsonArea(
        type="Polygon", coordinates=[[list(xy) for xy in ring] for ring in geojson["coordinates"]]
    )


def near(rng: random.Random, lon: float, lat: float, km: float) -> GeoPoint:
    degrees = km / KM_PER_DEGREE_LAT
    return GeoPoint(
        lon=round(lon + rng.uniform(-degrees, degrees) * 1.6, 5),
        lat=round(lat + rng.uniform(-degrees, degrees), 5),
    )


async def user_by_email(email: str) -> User | None:
    async with tenant_session(SYSTEM) as session:
        return await UserRepository(session).get_by_email(email)


async def ensure_user(email: str, role: str, full_name: str) -> User:
    existing = await user_by_email(email)
    if existing is not None:
        return existing
    async with tenant_session(SYSTEM) as session:
        return await SeedRepository(session).add_user(role, email, full_name)


async def ensure_org(
    index: int, admin: Caller, drivers_per_org: int, center: tuple[float, float], report: SeedReport
) -> Organization:
    name, code, (dlon, dlat), radius = MOVERS[index]
    async with tenant_session(SYSTEM) as session:
        existing = await SeedRepository(session).organization_by_code(code)
    if existing is not None:
        return existing
    lon, lat = center[0] + dlon, center[1] + dlat
    slug = code.lower()
    async with tenant_session(admin) as session:
        onboarded = await onboard(
            session,
            admin,
            OrganizationCreate(
                name=name,
                code=code,
                service_area=service_area(lon, lat, radius),
                base_location=GeoPoint(lon=lon, lat=lat),
                hourly_rate_cents=4000 + 250 * index,
                per_km_cents=120 + 10 * index,
                minimum_charge_cents=15000,
                currency="EUR",
                timezone="Europe/Berlin",
                contact_email=f"office@{slug}.{DOMAIN}",
                admin_email=f"admin@{slug}.{DOMAIN}",
            ),
            get_settings(),
        )
        org = await OrganizationRepository(session).get_by_id(onboarded.organization.id)
        assert org is not None
        org.verified = True
    owner = Caller(role="mover_admin", user_id=onboarded.admin_user_id, org_id=org.id)
    rng = random.Random(index)
    async with tenant_session(owner) as session:
        await invite(
            session,
            owner,
            org.id,
            StaffInvite(
                role="dispatcher",
                email=f"dispatch@{slug}.{DOMAIN}",
                full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            ),
        )
        for number in range(1, drivers_per_org + 1):
            skills = (
                ["driver", "foreman"]
                if number == 1
                else rng.choice([["driver"], ["driver", "packer"], ["packer", "driver", "foreman"]])
            )
            await invite(
                session,
                owner,
                org.id,
                StaffInvite(
                    role="driver",
                    email=f"driver{number}@{slug}.{DOMAIN}",
                    full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    skills=skills,
                    home_base=near(rng, lon, lat, radius / 2),
                ),
            )
        for number in range(1, max(2, drivers_per_org // 2) + 1):
            await add_truck(
                session,
                owner,
                TruckCreate(
                    plate=f"B-{code[:2]} {100 + number}",
                    capacity_m3=rng.choice([15, 25, 35, 45]),
                    home_base=GeoPoint(lon=lon, lat=lat),
                ),
            )
    async with tenant_session(SYSTEM) as session:
        # Demo movers count as vetted: their drivers' documents are taken as approved.
        await SeedRepository(session).vet_drivers(org.id)
    report.created_orgs += 1
    return org


async def ensure_bookings(
    org: Organization, customers: list[User], now: datetime, report: SeedReport
) -> None:
    """Top up to three open bookings in the next two days (the first one later today):
    finished ones are not work, so every `movehub up` gives the simulated crews some."""
    async with tenant_session(SYSTEM) as session:
        demo = SeedRepository(session)
        upcoming = await demo.open_bookings_starting_between(org.id, now, now + timedelta(days=2))
        dispatcher = await demo.dispatcher_of(org.id)
    rng = random.Random(f"{org.code}{now.date()}")
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    tomorrow = (now + timedelta(days=1)).replace(hour=7, minute=0, second=0, microsecond=0)
    starts = [next_hour, tomorrow, tomorrow + timedelta(hours=5)]
    base = point_of(org.base_location)
    for number, start in enumerate(starts[upcoming:]):
        customer = customers[rng.randrange(len(customers))]
        caller = Caller(role="customer", user_id=customer.id)
        async with tenant_session(caller) as session:
            booking_id = (
                await book(
                    session,
                    caller,
                    BookingCreate(
                        org_id=org.id,
                        pickup=Stop(
                            address=f"{rng.choice(STREETS)} {rng.randint(1, 120)}, Berlin",
                            location=near(rng, base.lon, base.lat, 4),
                        ),
                        dropoff=Stop(
                            address=f"{rng.choice(STREETS)} {rng.randint(1, 120)}, Berlin",
                            location=near(rng, base.lon, base.lat, 9),
                        ),
                        window_start=start,
                        window_end=start + timedelta(hours=rng.choice([3, 4, 5])),
                        volume_m3=rng.choice([8, 12, 20, 30]),
                        crew_size=rng.choice([2, 2, 3]),
                        notes="demo booking",
                    ),
                    average_speed_kmh=get_settings().average_speed_kmh,
                    now=now,
                )
            ).id
        if number % 2 == 0 and dispatcher is not None:
            staff = Caller(role="dispatcher", user_id=dispatcher.id, org_id=org.id)
            async with tenant_session(staff) as session:
                booking = await BookingRepository(session).get_by_id(booking_id)
                assert booking is not None
                await apply_transition(session, booking, BookingStatus.CONFIRMED, staff, reason="demo")
        report.created_bookings += 1


async def seed(drivers_total: int, console: Console, center: tuple[float, float] = CENTER) -> SeedReport:
    """Create what is missing; `center` moves the whole city (tests seed far from Berlin)."""
    report = SeedReport()
    now = datetime.now(UTC)
    drivers_per_org = max(1, math.ceil(drivers_total / len(MOVERS)))
    with Progress(console=console, transient=True) as progress:
        people = progress.add_task("accounts", total=CUSTOMERS + 1)
        platform = await ensure_user(f"admin@{DOMAIN}", "platform_admin", "Platform Admin")
        progress.advance(people)
        customers = []
        for number in range(1, CUSTOMERS + 1):
            customers.append(
                await ensure_user(
                    f"customer{number}@{DOMAIN}", "customer", f"{FIRST[number % len(FIRST)]} Kunde"
                )
            )
            progress.advance(people)
        admin = Caller(role="platform_admin", user_id=platform.id)
        movers = progress.add_task("movers, fleets, bookings", total=len(MOVERS))
        for index in range(len(MOVERS)):
            org = await ensure_org(index, admin, drivers_per_org, center, report)
            await ensure_bookings(org, customers, now, report)
            progress.advance(movers)
    await _summarize(report, customers[0])
    return report


async def _summarize(report: SeedReport, customer: User) -> None:
    async with tenant_session(SYSTEM) as session:
        report.organizations = await SeedRepository(session).fleet_summary([code for _, code, _, _ in MOVERS])
    slug = MOVERS[0][1].lower()
    report.logins = {
        "platform admin": f"admin@{DOMAIN}",
        "mover admin": f"admin@{slug}.{DOMAIN}",
        "dispatcher": f"dispatch@{slug}.{DOMAIN}",
        "driver": f"driver1@{slug}.{DOMAIN}",
        "customer": customer.email or "",
    }


async def demo_board_token(code: str = MOVERS[0][1]) -> str | None:
    """An access token of the demo dispatcher of `code`, for a one-click board link.

    Development only: anyone holding the link is that dispatcher until it expires.
    """
    settings = get_settings()
    if settings.environment != "development":
        return None
    dispatcher = await user_by_email(f"dispatch@{code.lower()}.{DOMAIN}")
    if dispatcher is None:
        return None
    caller = Caller(role="dispatcher", user_id=dispatcher.id, org_id=dispatcher.org_id)
    return issue_access_token(caller, settings.model_copy(update={"access_token_ttl_s": DEMO_LINK_TTL_S}))


def _print(report: SeedReport, console: Console) -> None:
    table = Table(title="MoveHub demo city: Berlin (13.405, 52.52)")
    for column in ("organization", "code", "drivers", "trucks", "bookings"):
        table.add_column(column)
    for name, code, drivers, trucks, bookings in report.organizations:
        table.add_row(name, code, str(drivers), str(trucks), str(bookings))
    console.print(table)
    console.print(f"new organizations: {report.created_orgs}   new bookings: {report.created_bookings}")
    logins = Table(title="Sign in with an email OTP (development: the code is in the server log)")
    logins.add_column("as")
    logins.add_column("email")
    for role, email in report.logins.items():
        logins.add_row(role, email)
    console.print(logins)


def run_seed(args: argparse.Namespace) -> None:
    """Entry point of `movehub seed` (and `movehub up`)."""
    console = Console()

    async def main() -> SeedReport:
        try:
            return await seed(int(getattr(args, "drivers", 40) or 40), console)
        finally:
            await dispose_engine()

    _print(asyncio.run(main()), console)
