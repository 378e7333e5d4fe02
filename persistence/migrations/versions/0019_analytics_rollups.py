"""Per-organization per-day analytics rollups, kept exact by a log of changed days.

Platform-wide analytics read a platform's history row by row under row-level security; the
booking, driver and truck figures now read one row per organization, day and status (or
driver, or truck) for the closed days, and live rows for the rest (persistence/repositories/
analytics.py). A day counts in a zone: each organization's days are rolled up in its own time
zone and in UTC (the platform's).

- analytics_rollup_days: the (organization, zone, day)s rolled up (written by the refresh).
- analytics_booking_days, analytics_driver_days, analytics_truck_days: the figures.
- analytics_dirty: a day whose rows changed since its rollup. Statement-level triggers on
  bookings, booking_assignments and booking_status_history (arrivals) append the days a
  statement touched (no lock taken, no conflict: writers never wait on analytics). A reader
  treats a logged day as not rolled up, so a change counts at once; the scheduler's refresh
  deletes the log rows it saw and recomputes their days in the same transaction
  (persistence/analytics_rollups.py).

The trigger functions set app.role to 'system' for their own statements and restore the
caller's after: they read the booking and organization of the changed row whoever the writer
is (a driver sees no other booking) and append to the log, nothing else. Every table has the
policies of its sources: an organization's staff see their organization's rows, platform
admins (and the system) all.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

from persistence.migrations import rls

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE analytics_rollup_days (
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  zone varchar(64) NOT NULL,
  day date NOT NULL,
  refreshed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, zone, day)
);
CREATE TABLE analytics_booking_days (
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  zone varchar(64) NOT NULL,
  day date NOT NULL,
  status varchar(16) NOT NULL,
  currency varchar(3) NOT NULL,
  bookings bigint NOT NULL,
  price_cents bigint NOT NULL,
  PRIMARY KEY (org_id, zone, day, status, currency)
);
CREATE TABLE analytics_driver_days (
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  zone varchar(64) NOT NULL,
  day date NOT NULL,
  driver_id uuid NOT NULL,
  jobs bigint NOT NULL,
  completed bigint NOT NULL,
  arrivals bigint NOT NULL,
  on_time bigint NOT NULL,
  PRIMARY KEY (org_id, zone, day, driver_id)
);
CREATE TABLE analytics_truck_days (
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  zone varchar(64) NOT NULL,
  day date NOT NULL,
  truck_id uuid NOT NULL,
  jobs bigint NOT NULL,
  busy_seconds numeric NOT NULL,
  PRIMARY KEY (org_id, zone, day, truck_id)
);
CREATE TABLE analytics_dirty (
  org_id uuid NOT NULL,
  zone varchar(64) NOT NULL,
  day date NOT NULL,
  marked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_analytics_dirty_day ON analytics_dirty (org_id, zone, day);
"""
# Platform-wide reads take a range of days of every organization in one index range scan.
INDEXES = tuple(
    f"CREATE INDEX IF NOT EXISTS ix_{table}_zone_day ON {table} (zone, day)"
    for table in (
        "analytics_rollup_days",
        "analytics_booking_days",
        "analytics_driver_days",
        "analytics_truck_days",
    )
)

# The days (in the organization's zone and in UTC) of the given instants of its bookings.
MARK = """
CREATE OR REPLACE FUNCTION analytics_mark_days(orgs uuid[], instants timestamptz[])
RETURNS void LANGUAGE sql AS $$
  INSERT INTO analytics_dirty (org_id, zone, day)
  SELECT DISTINCT m.org_id, z.zone, (m.at AT TIME ZONE z.zone)::date
  FROM unnest(orgs, instants) AS m(org_id, at)
  JOIN organizations o ON o.id = m.org_id
  CROSS JOIN LATERAL (VALUES (o.timezone::varchar), ('UTC'::varchar)) AS z(zone)
  WHERE m.at IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION analytics_mark_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE caller text := current_setting('app.role', true);
BEGIN
  PERFORM set_config('app.role', 'system', true);
  IF TG_OP <> 'DELETE' THEN
    PERFORM analytics_mark_days(array_agg(org_id), array_agg(window_start)) FROM new_rows;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    PERFORM analytics_mark_days(array_agg(org_id), array_agg(window_start)) FROM old_rows;
  END IF;
  PERFORM set_config('app.role', coalesce(caller, ''), true);
  RETURN NULL;
END $$;

-- Assignments count on their booking's day.
CREATE OR REPLACE FUNCTION analytics_mark_booking_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE caller text := current_setting('app.role', true);
BEGIN
  PERFORM set_config('app.role', 'system', true);
  IF TG_OP <> 'DELETE' THEN
    PERFORM analytics_mark_days(array_agg(b.org_id), array_agg(b.window_start))
    FROM bookings b WHERE b.id IN (SELECT booking_id FROM new_rows);
  END IF;
  IF TG_OP <> 'INSERT' THEN
    PERFORM analytics_mark_days(array_agg(b.org_id), array_agg(b.window_start))
    FROM bookings b WHERE b.id IN (SELECT booking_id FROM old_rows);
  END IF;
  PERFORM set_config('app.role', coalesce(caller, ''), true);
  RETURN NULL;
END $$;

-- Only arrivals count (a job's on-time rate); history rows are never updated.
CREATE OR REPLACE FUNCTION analytics_mark_arrivals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE caller text := current_setting('app.role', true);
BEGIN
  PERFORM set_config('app.role', 'system', true);
  IF TG_OP <> 'DELETE' THEN
    PERFORM analytics_mark_days(array_agg(b.org_id), array_agg(b.window_start))
    FROM bookings b WHERE b.id IN (SELECT booking_id FROM new_rows WHERE to_status = 'arrived');
  END IF;
  IF TG_OP <> 'INSERT' THEN
    PERFORM analytics_mark_days(array_agg(b.org_id), array_agg(b.window_start))
    FROM bookings b WHERE b.id IN (SELECT booking_id FROM old_rows WHERE to_status = 'arrived');
  END IF;
  PERFORM set_config('app.role', coalesce(caller, ''), true);
  RETURN NULL;
END $$;
"""

SOURCES = {
    "bookings": "analytics_mark_bookings",
    "booking_assignments": "analytics_mark_booking_rows",
    "booking_status_history": "analytics_mark_arrivals",
}
_TRANSITIONS = {
    "INSERT": "NEW TABLE AS new_rows",
    "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
}
ROLLUPS = (
    "analytics_rollup_days",
    "analytics_booking_days",
    "analytics_driver_days",
    "analytics_truck_days",
    "analytics_dirty",
)


def _triggers() -> list[str]:
    return [
        f"CREATE TRIGGER analytics_{event.lower()} AFTER {event} ON {table}"
        f" REFERENCING {transitions} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        for table, function in SOURCES.items()
        for event, transitions in _TRANSITIONS.items()
    ]


def upgrade() -> None:
    op.execute(TABLES)
    for statement in INDEXES:
        op.execute(statement)
    for table in ROLLUPS:
        for statement in rls.tenant_table(table):
            op.execute(statement)
    op.execute(MARK)
    for statement in _triggers():
        op.execute(statement)


def downgrade() -> None:
    for table in SOURCES:
        for event in _TRANSITIONS:
            op.execute(f"DROP TRIGGER IF EXISTS analytics_{event.lower()} ON {table}")
    for function in SOURCES.values():
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.execute("DROP FUNCTION IF EXISTS analytics_mark_days(uuid[], timestamptz[])")
    for table in reversed(ROLLUPS):
        op.execute(f"DROP TABLE IF EXISTS {table}")
