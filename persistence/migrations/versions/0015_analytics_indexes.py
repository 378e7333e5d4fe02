"""Analytics at scale: covering indexes for the nine analytics views (dispatch/analytics).

Bookings count in a range by window start, for one organization or platform-wide; both
orders get an index carrying status, currency and price so the figures come from index-only
scans; they carry the columns the row-level security policies read too (customer_id, id,
org_id), or the policies would send every row back to the heap. Drivers' on-time rate looks
up each job's arrival, and trucks' utilization each job's active assignment: a partial index
for each. `movehub bench analytics` measures the views without and with
them (bench-results/analytics.json).

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CREATE = (
    "CREATE INDEX IF NOT EXISTS ix_bookings_analytics_org ON bookings"
    " (org_id, window_start) INCLUDE (status, currency, price_cents, customer_id, id)",
    "CREATE INDEX IF NOT EXISTS ix_bookings_analytics_time ON bookings"
    " (window_start) INCLUDE (org_id, status, currency, price_cents, customer_id, id)",
    "CREATE INDEX IF NOT EXISTS ix_booking_status_history_arrivals ON booking_status_history"
    " (booking_id) INCLUDE (org_id, created_at) WHERE to_status = 'arrived'",
    "CREATE INDEX IF NOT EXISTS ix_booking_assignments_analytics ON booking_assignments"
    " (booking_id) INCLUDE (org_id, driver_id, truck_id, \"window\") WHERE active",
)
DROP = (
    "DROP INDEX IF EXISTS ix_bookings_analytics_org",
    "DROP INDEX IF EXISTS ix_bookings_analytics_time",
    "DROP INDEX IF EXISTS ix_booking_status_history_arrivals",
    "DROP INDEX IF EXISTS ix_booking_assignments_analytics",
)


def upgrade() -> None:
    for statement in CREATE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP:
        op.execute(statement)
