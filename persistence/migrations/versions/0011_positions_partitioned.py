"""Breadcrumb trail partitioned by day (UTC), with the functions that add and drop a day.

Revision ID: 0011
Revises: 0010

driver_breadcrumbs becomes PARTITION BY RANGE (recorded_at): one partition per UTC day,
named driver_breadcrumbs_YYYYMMDD, plus driver_breadcrumbs_default so a ping of a day without
a partition is never refused. Retention drops whole days instead of deleting rows.

Tenancy: the RLS policies and grants stay on the parent (PostgreSQL applies the parent's
policies and checks the parent's privileges for every query through it). A partition gets no
grant to the app role, so reading one by name is refused; RLS is enabled on it too (no policy:
deny) in case a grant ever slips in. The app role cannot create or drop tables it does not
own, so two SECURITY DEFINER functions (owned by the migrating role) do exactly that and no
more; the scheduler's job (persistence/positions_partitions.py) calls them.
"""

from alembic import op

from persistence.config import get_settings
from persistence.migrations import rls

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OWN = "driver_id = app_driver_id()"
PARENT = "driver_breadcrumbs"
AHEAD_DAYS = 7  # the scheduler's job keeps MOVEHUB_POSITIONS_PARTITIONS_AHEAD_DAYS from then on


def _columns(table: str, pk: str, partition: str = "") -> str:
    return f"""
CREATE TABLE {table} (
  driver_id uuid NOT NULL REFERENCES drivers(id) ON DELETE CASCADE,
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  recorded_at timestamptz NOT NULL,
  location geography(Point, 4326) NOT NULL,
  heading real,
  speed real,
  accuracy real,
  CONSTRAINT {pk} PRIMARY KEY (driver_id, recorded_at)
){partition};
CREATE INDEX ix_{table}_org_id ON {table} (org_id);
"""


COPY_ROWS = """
INSERT INTO driver_breadcrumbs (driver_id, org_id, recorded_at, location, heading, speed,
                                accuracy)
SELECT driver_id, org_id, recorded_at, location, heading, speed, accuracy FROM {source}
"""

# A day's partition. When the default partition already holds rows of that day (pings that
# came before the partition), they move in the same transaction: out of the default into a
# temporary table (the default must keep no row of the new range), then into the new
# partition. Not ATTACH: its foreign-key validation reads drivers under their forced RLS, so
# it would depend on the caller's context; row inserts are checked by the RI triggers, which
# do not apply forced RLS.
CREATE_FUNCTION = """
CREATE FUNCTION breadcrumb_partition_create(day date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  part text := format('driver_breadcrumbs_%s', to_char(day, 'YYYYMMDD'));
  lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
  hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  CREATE TEMPORARY TABLE breadcrumbs_moving (LIKE driver_breadcrumbs) ON COMMIT DROP;
  WITH moved AS (DELETE FROM driver_breadcrumbs_default
                 WHERE recorded_at >= lo AND recorded_at < hi RETURNING *)
  INSERT INTO breadcrumbs_moving SELECT * FROM moved;
  EXECUTE format('CREATE TABLE %I PARTITION OF driver_breadcrumbs '
                 'FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
  -- The default partition has the parent's column order, so * lines up.
  EXECUTE format('INSERT INTO %I SELECT * FROM breadcrumbs_moving', part);
  DROP TABLE breadcrumbs_moving;
  EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
  RETURN true;
END $$;
"""

# Drops only a day partition of the trail, never any other table.
DROP_FUNCTION = """
CREATE FUNCTION breadcrumb_partition_drop(day date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  part text := format('driver_breadcrumbs_%s', to_char(day, 'YYYYMMDD'));
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_inherits
                 WHERE inhrelid = to_regclass(part)
                   AND inhparent = 'driver_breadcrumbs'::regclass) THEN
    RETURN false;
  END IF;
  EXECUTE format('DROP TABLE %I', part);
  RETURN true;
END $$;
"""

FUNCTIONS = ("breadcrumb_partition_create(date)", "breadcrumb_partition_drop(date)")


def _grant_functions() -> list[str]:
    role = rls.app_role_name()
    return [statement for function in FUNCTIONS for statement in (
        f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {function} TO {role}",
    )]


INITIAL_DAYS = """
SELECT breadcrumb_partition_create(day) FROM (
  SELECT DISTINCT (recorded_at AT TIME ZONE 'UTC')::date AS day
  FROM driver_breadcrumbs_unpartitioned
  WHERE recorded_at >= (now() AT TIME ZONE 'UTC')::date - {keep}
  UNION
  SELECT (now() AT TIME ZONE 'UTC')::date + n FROM generate_series(0, {ahead}) AS n
) AS days ORDER BY day
"""


def _initial_days() -> str:
    """The days of kept rows (within retention) and the week ahead; older rows go to default."""
    keep = get_settings().positions_retention_days
    return INITIAL_DAYS.format(keep=int(keep), ahead=AHEAD_DAYS)


def _set_aside(suffix: str) -> str:
    """Rename the current table out of the way and let the owner read it past its RLS (FORCE
    would show the migrating role, which has no caller, no row at all)."""
    old = f"{PARENT}_{suffix}"
    for statement in (f"ALTER TABLE {PARENT} RENAME TO {old}",
                      f"ALTER TABLE {old} RENAME CONSTRAINT pk_{PARENT} TO pk_{old}",
                      f"ALTER INDEX ix_{PARENT}_org_id RENAME TO ix_{old}_org_id",
                      f"ALTER TABLE {old} NO FORCE ROW LEVEL SECURITY"):
        op.execute(statement)
    return old


def _move_rows_then_protect(old: str) -> None:
    """Copy before the new table's RLS is forced (its policies would refuse the owner)."""
    op.execute(COPY_ROWS.format(source=old))
    for statement in rls.tenant_table(PARENT, driver_reads=OWN):
        op.execute(statement)
    op.execute(f"DROP TABLE {old} CASCADE")


def upgrade() -> None:
    old = _set_aside("unpartitioned")
    op.execute(_columns(PARENT, f"pk_{PARENT}", " PARTITION BY RANGE (recorded_at)"))
    op.execute(f"CREATE TABLE {PARENT}_default PARTITION OF {PARENT} DEFAULT")
    op.execute(f"ALTER TABLE {PARENT}_default ENABLE ROW LEVEL SECURITY")
    op.execute(CREATE_FUNCTION)
    op.execute(DROP_FUNCTION)
    for statement in _grant_functions():
        op.execute(statement)
    op.execute(_initial_days())
    _move_rows_then_protect(old)


def downgrade() -> None:
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    old = _set_aside("partitioned")
    op.execute(_columns(PARENT, f"pk_{PARENT}"))
    _move_rows_then_protect(old)
