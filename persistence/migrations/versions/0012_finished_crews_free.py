"""Completed jobs free their crews: an assignment's window ends when its job was completed
(empty when completed before its window began), as dispatch.lifecycle now does on completion.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The tables force row-level security even for their owner: act as the system caller.
UPGRADE = """
SELECT set_config('app.role', 'system', true);
WITH done AS (
  SELECT booking_id, max(created_at) AS at FROM booking_status_history
  WHERE to_status = 'completed' GROUP BY booking_id)
UPDATE booking_assignments a
SET "window" = tstzrange(lower(a."window"),
                         greatest(lower(a."window"), least(upper(a."window"), done.at)))
FROM bookings b, done
WHERE a.active AND b.id = a.booking_id AND b.status = 'completed' AND done.booking_id = b.id
  AND upper(a."window") > done.at;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    """The windows as booked are not kept: a finished job's crew stays free."""
