"""Invoices paid online: invoice_online_payments keeps each PaymentIntent started for an
invoice's balance (one open per invoice, one row per attempt, the provider's id once), what the
provider reported received and what went onto the invoice.

Row-level security: platform admins and the system all; the organization's staff read theirs;
a customer reads and starts (and supersedes) payments of their own issued invoices. Only the
system (the webhook) settles them.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

from persistence.migrations import rls

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLE = """
CREATE TABLE invoice_online_payments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  invoice_id uuid NOT NULL REFERENCES invoices(id) ON DELETE RESTRICT,
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE RESTRICT,
  customer_id uuid NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
  attempt integer NOT NULL,
  amount_cents bigint NOT NULL CONSTRAINT ck_invoice_online_payments_amount_positive
    CHECK (amount_cents > 0),
  currency char(3) NOT NULL,
  provider varchar(16) NOT NULL,
  provider_payment_id varchar(128) NOT NULL,
  client_secret varchar(256),
  status varchar(24) NOT NULL DEFAULT 'requires_payment'
    CONSTRAINT ck_invoice_online_payments_status_known CHECK
    (status IN ('requires_payment','processing','succeeded','failed','superseded')),
  received_cents bigint,
  credited_cents bigint,
  invoice_payment_id uuid REFERENCES invoice_payments(id) ON DELETE SET NULL,
  last_event_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_invoice_online_payments_provider_payment_id UNIQUE (provider_payment_id),
  CONSTRAINT uq_invoice_online_payments_attempt UNIQUE (invoice_id, attempt)
);
CREATE INDEX ix_invoice_online_payments_org_id ON invoice_online_payments (org_id);
CREATE INDEX ix_invoice_online_payments_customer_id ON invoice_online_payments (customer_id);
-- One intent in play per invoice: a second start returns it or supersedes it.
CREATE UNIQUE INDEX uq_invoice_online_payments_open ON invoice_online_payments (invoice_id)
  WHERE status IN ('requires_payment', 'processing');
"""

OWN_ISSUED = ("customer_id = app_user_id() AND app_role() = 'customer' AND EXISTS ("
              "SELECT 1 FROM invoices i WHERE i.id = invoice_online_payments.invoice_id"
              " AND i.customer_id = app_user_id() AND i.status <> 'draft')")


def upgrade() -> None:
    op.execute(TABLE)
    for statement in [
        *rls.enable("invoice_online_payments"),
        rls.policy("invoice_online_payments", "admin", "app_is_admin()"),
        rls.policy("invoice_online_payments", "staff", "app_is_staff_of(org_id)",
                   command="SELECT"),
        rls.policy("invoice_online_payments", "customer_read", OWN_ISSUED, command="SELECT"),
        rls.policy("invoice_online_payments", "customer_start", OWN_ISSUED, command="INSERT"),
        # Superseding an unpaid attempt of their own (the status is all the code changes).
        rls.policy("invoice_online_payments", "customer_supersede", OWN_ISSUED,
                   command="UPDATE"),
    ]:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS invoice_online_payments")
