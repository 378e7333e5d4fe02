"""Dispatch: spatial and lookup indexes the scorers and the KNN baseline rely on.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_drivers_home_base ON drivers USING gist (home_base)")
    op.execute("CREATE INDEX ix_booking_assignments_driver_active ON booking_assignments "
               "(driver_id) WHERE active")
    op.execute("CREATE INDEX ix_booking_assignments_truck_active ON booking_assignments "
               "(truck_id) WHERE active")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_booking_assignments_truck_active")
    op.execute("DROP INDEX IF EXISTS ix_booking_assignments_driver_active")
    op.execute("DROP INDEX IF EXISTS ix_drivers_home_base")
