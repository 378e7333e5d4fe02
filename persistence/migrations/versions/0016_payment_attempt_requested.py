"""Payment attempts recorded before the provider is asked: an invoice's online payment may
have no provider id yet.

Starting an online payment (dispatch/invoices/online.py) now records the attempt in a short
transaction of its own, asks the provider with no transaction open, and records the answer in
a second one; between the two the attempt is "requested": open (requires_payment) with no
provider_payment_id. Booking payments (payments.provider_payment_id) were nullable already.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE invoice_online_payments ALTER COLUMN provider_payment_id"
               " DROP NOT NULL")


def downgrade() -> None:
    op.execute("DELETE FROM invoice_online_payments WHERE provider_payment_id IS NULL")
    op.execute("ALTER TABLE invoice_online_payments ALTER COLUMN provider_payment_id"
               " SET NOT NULL")
