"""Analytics rollups' policies in a shape PostgreSQL evaluates once per statement.

Migration 0019 gave each rollup table the two policies of its sources (`app_is_admin()`, and
`app_is_staff_of(org_id)`). PostgreSQL ORs them per row, staff first: a platform admin's read of
a month's driver or truck days (~54k rows at 100 organizations) read the caller's settings a few
times per row. One policy, `(SELECT app_is_admin()) OR app_is_staff_of(org_id)`, says the same
(permissive policies are ORed) and the admin branch becomes an InitPlan, a parameter tested
first on each row. Writers (the system role of the refresh and the triggers) are admins too.

Revision ID: 0020
Revises: 0019
"""

from alembic import op

from persistence.migrations import rls

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

ROLLUPS = (
    "analytics_rollup_days",
    "analytics_booking_days",
    "analytics_driver_days",
    "analytics_truck_days",
    "analytics_dirty",
)
TENANT = "(SELECT app_is_admin()) OR app_is_staff_of(org_id)"


def upgrade() -> None:
    for table in ROLLUPS:
        op.execute(f"DROP POLICY IF EXISTS {table}_admin ON {table}")
        op.execute(f"DROP POLICY IF EXISTS {table}_staff ON {table}")
        op.execute(rls.policy(table, "tenant", TENANT))


def downgrade() -> None:
    for table in ROLLUPS:
        op.execute(f"DROP POLICY IF EXISTS {table}_tenant ON {table}")
        op.execute(rls.policy(table, "admin", "app_is_admin()"))
        op.execute(rls.policy(table, "staff", "app_is_staff_of(org_id)"))
