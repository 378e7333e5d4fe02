"""Outbox rows carry the W3C traceparent of the transaction that wrote them (stub: filled in by the tracing work).

Revision ID: 0018
Revises: 0017
"""

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
