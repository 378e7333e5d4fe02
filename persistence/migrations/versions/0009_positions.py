"""Driver positions: latest per driver and the breadcrumb trail.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from persistence.migrations import rls

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE driver_positions (
  driver_id uuid PRIMARY KEY REFERENCES drivers(id) ON DELETE CASCADE,
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  location geography(Point, 4326) NOT NULL,
  heading real,
  speed real,
  accuracy real,
  recorded_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_driver_positions_org_id ON driver_positions (org_id);

CREATE TABLE driver_breadcrumbs (
  driver_id uuid NOT NULL REFERENCES drivers(id) ON DELETE CASCADE,
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  recorded_at timestamptz NOT NULL,
  location geography(Point, 4326) NOT NULL,
  heading real,
  speed real,
  accuracy real,
  CONSTRAINT pk_driver_breadcrumbs PRIMARY KEY (driver_id, recorded_at)
);
CREATE INDEX ix_driver_breadcrumbs_org_id ON driver_breadcrumbs (org_id);
"""

OWN = "driver_id = app_driver_id()"


def upgrade() -> None:
    op.execute(TABLES)
    for table in ("driver_positions", "driver_breadcrumbs"):
        for statement in rls.tenant_table(table, driver_reads=OWN):
            op.execute(statement)


def downgrade() -> None:
    for table in ("driver_breadcrumbs", "driver_positions"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
