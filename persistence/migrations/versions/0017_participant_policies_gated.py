"""Participant policies gated by role: a platform admin's or staff's read no longer pays them.

PostgreSQL ORs a table's permissive policies and evaluates them row by row, the admin one
last. booking_status_history's participant_read ran its EXISTS over bookings (itself under
RLS) for every history row an admin or staff read, and bookings' driver_read probed
booking_assignments; analytics over a platform's history spent most of its time there.
The participant branches now start with the caller's role, so the EXISTS runs only for the
callers they exist for (customers and drivers; drivers alone for bookings). Only the read
policies change (writes are not hot). Who sees what is unchanged: staff and admins have their
own policies (tests/integration/test_analytics_rls.py).

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_VISIBLE = "EXISTS (SELECT 1 FROM bookings b WHERE b.id = booking_status_history.booking_id)"
_HOLDS = ("EXISTS (SELECT 1 FROM booking_assignments a WHERE a.booking_id = bookings.id"
          " AND a.driver_id = app_driver_id() AND a.active)")
_PARTICIPANT = "app_role() IN ('customer', 'driver')"
_DRIVER = "app_role() = 'driver'"


def _set(participant: str, driver: str) -> None:
    op.execute("ALTER POLICY booking_status_history_participant_read ON booking_status_history"
               f" USING ({participant}{_VISIBLE})")
    op.execute(f"ALTER POLICY bookings_driver_read ON bookings USING ({driver}{_HOLDS})")


def upgrade() -> None:
    _set(f"{_PARTICIPANT} AND ", f"{_DRIVER} AND ")


def downgrade() -> None:
    _set("", "")
