"""Outbox rows carry the W3C traceparent of the transaction that wrote them: the worker
restores it when it delivers the row, so an effect (a booking's confirmation email, a shard
told of an assignment) sits in the trace of the request that caused it. NULL when tracing is
off (OTEL_* unset) or the row was written outside any span.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: a catalog-only change, no table rewrite.
    op.execute("ALTER TABLE outbox ADD COLUMN traceparent text")


def downgrade() -> None:
    op.execute("ALTER TABLE outbox DROP COLUMN traceparent")
