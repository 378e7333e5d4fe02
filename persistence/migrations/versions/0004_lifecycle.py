"""Lifecycle: payments, refunds and processed payment-provider webhook events.

Revision ID: 0004
Revises: 0002
"""

from alembic import op

from persistence.migrations import rls

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE payments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE RESTRICT,
  booking_id uuid NOT NULL REFERENCES bookings(id) ON DELETE RESTRICT,
  customer_id uuid NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
  amount_cents bigint NOT NULL CONSTRAINT ck_payments_amount_positive CHECK (amount_cents > 0),
  currency varchar(3) NOT NULL,
  provider varchar(16) NOT NULL,
  provider_payment_id varchar(128) UNIQUE,
  client_secret varchar(256),
  status varchar(24) NOT NULL DEFAULT 'requires_payment' CONSTRAINT ck_payments_status_known
    CHECK (status IN ('requires_payment','processing','succeeded','failed')),
  last_event_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_payments_booking_id ON payments (booking_id);
CREATE INDEX ix_payments_org_id ON payments (org_id);
-- One live attempt to pay a booking at a time.
CREATE UNIQUE INDEX uq_payments_open_per_booking ON payments (booking_id)
  WHERE status IN ('requires_payment', 'processing');

CREATE TABLE refunds (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE RESTRICT,
  booking_id uuid NOT NULL REFERENCES bookings(id) ON DELETE RESTRICT,
  payment_id uuid NOT NULL REFERENCES payments(id) ON DELETE RESTRICT,
  customer_id uuid NOT NULL,
  amount_cents bigint NOT NULL CONSTRAINT ck_refunds_amount_positive CHECK (amount_cents > 0),
  currency varchar(3) NOT NULL,
  reason_code varchar(32) NOT NULL,
  note text NOT NULL DEFAULT '',
  status varchar(16) NOT NULL DEFAULT 'pending' CONSTRAINT ck_refunds_status_known
    CHECK (status IN ('pending','sending','succeeded','failed','dead')),
  provider_refund_id varchar(128) UNIQUE,
  attempts integer NOT NULL DEFAULT 0,
  key_generation integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  requested_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_refunds_booking_id ON refunds (booking_id);
CREATE INDEX ix_refunds_org_id ON refunds (org_id);
CREATE INDEX ix_refunds_due ON refunds (next_attempt_at) WHERE status IN ('pending','sending','failed');

CREATE TABLE payment_events (
  id varchar(128) PRIMARY KEY,
  type varchar(64) NOT NULL,
  object_id varchar(128) NOT NULL,
  created_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
"""

CUSTOMER_OWNS = "customer_id = app_user_id()"


def upgrade() -> None:
    op.execute(TABLES)
    statements = [
        *rls.tenant_table("payments"),
        rls.policy("payments", "customer", CUSTOMER_OWNS),
        *rls.tenant_table("refunds"),
        rls.policy("refunds", "customer_read", CUSTOMER_OWNS, command="SELECT"),
        rls.policy("refunds", "customer_request", CUSTOMER_OWNS, command="INSERT"),
        *rls.enable("payment_events"),
        rls.policy("payment_events", "system", "app_role() = 'system'"),
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS payment_events, refunds, payments CASCADE")
