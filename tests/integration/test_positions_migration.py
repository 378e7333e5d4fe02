"""Migration 0011 keeps the trail's rows: into their day partitions (or the default) on the way
up, back into one plain table on the way down."""

from __future__ import annotations

import datetime as dt
import uuid

from persistence.bootstrap import downgrade, migrate

WHERE = "SELECT recorded_at, tableoid::regclass::text FROM driver_breadcrumbs ORDER BY recorded_at"
# What the table keeps through both directions: its indexes, its policies, forced RLS.
SHAPE = """
SELECT (SELECT array_agg(indexname::text ORDER BY indexname) FROM pg_indexes
         WHERE tablename = 'driver_breadcrumbs'),
       (SELECT array_agg(policyname::text ORDER BY policyname) FROM pg_policies
         WHERE tablename = 'driver_breadcrumbs'),
       (SELECT relforcerowsecurity FROM pg_class WHERE relname = 'driver_breadcrumbs')
"""
KEPT = (
    ["ix_driver_breadcrumbs_org_id", "pk_driver_breadcrumbs"],
    ["driver_breadcrumbs_admin", "driver_breadcrumbs_driver", "driver_breadcrumbs_staff"],
    True,
)

ORG = (
    "INSERT INTO organizations (id, name, code, service_area, base_location, "
    "hourly_rate_cents, per_km_cents, minimum_charge_cents) VALUES (%s, 'Trail Movers', "
    "'TRAILMIG', 'MULTIPOLYGON(((13 52, 14 52, 14 53, 13 53, 13 52)))', 'POINT(13.4 52.5)', "
    "4500, 150, 15000)"
)
DRIVER = (
    "INSERT INTO drivers (id, org_id, full_name, home_base) "
    "VALUES (%s, %s, 'Trail Driver', 'POINT(13.4 52.5)')"
)


def test_rows_survive_upgrade_and_downgrade(scratch_database) -> None:  # type: ignore[no-untyped-def]
    database = scratch_database("part")
    owner_url = database.owner_url
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    moments = [now - dt.timedelta(days=400), now - dt.timedelta(days=3), now]
    migrate("0010", owner_url=owner_url)
    with database.admin() as conn:  # the superuser writes past row-level security
        org, driver = uuid.uuid4(), uuid.uuid4()
        conn.execute(ORG, (org,))
        conn.execute(DRIVER, (driver, org))
        for moment in moments:
            conn.execute(
                "INSERT INTO driver_breadcrumbs (driver_id, org_id, recorded_at, "
                "location) VALUES (%s, %s, %s, 'POINT(13.4 52.5)')",
                (driver, org, moment),
            )
    migrate("head", owner_url=owner_url)
    with database.admin() as conn:
        rows = conn.execute(WHERE).fetchall()
        assert conn.execute(SHAPE).fetchone() == KEPT
    day = [f"driver_breadcrumbs_{moment:%Y%m%d}" for moment in moments]
    assert rows == [(moments[0], "driver_breadcrumbs_default"), (moments[1], day[1]), (moments[2], day[2])]
    downgrade("0010", owner_url=owner_url)
    with database.admin() as conn:
        rows = conn.execute(WHERE).fetchall()
        kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'driver_breadcrumbs'").fetchone()
        assert conn.execute(SHAPE).fetchone() == KEPT
    assert rows == [(moment, "driver_breadcrumbs") for moment in moments]
    assert kind == ("r",)
