"""Refund sends move to the outbox (topic `refund.send`): refunds keep their business state,
the outbox their delivery (attempts' timing, lease, dead letter), so refunds.next_attempt_at
and its index go. Refunds still to send get their outbox row here, since the retry job that
used to find them by next_attempt_at is gone; a 'sending' refund the provider never answered
(a claim whose worker died) is pending again.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# The tables force row-level security even for their owner: act as the system caller.
UPGRADE = """
SELECT set_config('app.role', 'system', true);
UPDATE refunds SET status = 'pending' WHERE status = 'sending' AND provider_refund_id IS NULL;
INSERT INTO outbox (org_id, topic, aggregate_id, payload, idempotency_key)
SELECT org_id, 'refund.send', booking_id::text,
       jsonb_build_object('refund_id', id::text, 'key_generation', key_generation),
       'refund.send:' || id::text || ':' || key_generation::text
FROM refunds WHERE status IN ('pending', 'failed')
ON CONFLICT (idempotency_key) DO NOTHING;
DROP INDEX ix_refunds_due;
ALTER TABLE refunds DROP COLUMN next_attempt_at;
"""

DOWNGRADE = """
ALTER TABLE refunds ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX ix_refunds_due ON refunds (next_attempt_at) WHERE status IN ('pending','sending','failed');
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    """The column comes back (every refund due now); the outbox rows stay and are harmless."""
    op.execute(DOWNGRADE)
