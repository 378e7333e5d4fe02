"""Verification submissions and support tickets.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from persistence.migrations import rls

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE verification_submissions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  subject_type varchar(16) NOT NULL,
  subject_id uuid NOT NULL,
  driver_id uuid REFERENCES drivers(id) ON DELETE CASCADE,
  kind varchar(32) NOT NULL CONSTRAINT ck_verification_submissions_kind_known CHECK (kind IN
    ('business_license', 'liability_insurance', 'workers_comp', 'drivers_license',
     'background_check')),
  document_id uuid NOT NULL REFERENCES documents(id) ON DELETE RESTRICT,
  expires_on date,
  status varchar(16) NOT NULL DEFAULT 'pending'
    CONSTRAINT ck_verification_submissions_status_known CHECK (status IN
    ('pending', 'under_review', 'approved', 'rejected', 'expired', 'superseded')),
  rejection_reason text NOT NULL DEFAULT '',
  submitted_by uuid,
  reviewer_id uuid,
  review_started_at timestamptz,
  decided_at timestamptz,
  expired_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ck_verification_submissions_subject_consistent CHECK (
    (subject_type = 'organization' AND driver_id IS NULL AND subject_id = org_id)
    OR (subject_type = 'driver' AND driver_id = subject_id)),
  CONSTRAINT ck_verification_submissions_rejection_has_reason CHECK (
    status <> 'rejected' OR length(rejection_reason) > 0)
);
-- The admin queue (open ones, oldest first), a subject's documents, and the expiry job.
CREATE INDEX ix_verification_submissions_queue ON verification_submissions (created_at, id)
  WHERE status IN ('pending', 'under_review');
CREATE INDEX ix_verification_submissions_subject ON verification_submissions (subject_id, kind);
CREATE INDEX ix_verification_submissions_expiry ON verification_submissions (expires_on)
  WHERE status = 'approved';
CREATE INDEX ix_verification_submissions_org ON verification_submissions (org_id);
CREATE INDEX ix_verification_submissions_document ON verification_submissions (document_id);

CREATE TABLE support_tickets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  number bigint GENERATED ALWAYS AS IDENTITY,
  org_id uuid REFERENCES organizations(id) ON DELETE CASCADE,
  customer_id uuid REFERENCES users(id) ON DELETE CASCADE,
  opened_by uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  opened_by_role varchar(20) NOT NULL,
  booking_id uuid REFERENCES bookings(id) ON DELETE SET NULL,
  issue_type varchar(16) NOT NULL CONSTRAINT ck_support_tickets_issue_type_known CHECK
    (issue_type IN ('damage', 'late_arrival', 'no_show', 'billing', 'other')),
  subject varchar(200) NOT NULL,
  description text NOT NULL,
  priority varchar(8) NOT NULL CONSTRAINT ck_support_tickets_priority_known CHECK
    (priority IN ('low', 'normal', 'high', 'urgent')),
  priority_reasons text NOT NULL DEFAULT '',
  status varchar(16) NOT NULL DEFAULT 'open' CONSTRAINT ck_support_tickets_status_known CHECK
    (status IN ('open', 'in_progress', 'resolved', 'closed')),
  assignee_id uuid REFERENCES users(id) ON DELETE SET NULL,
  sla_due_at timestamptz NOT NULL,
  escalated boolean NOT NULL DEFAULT false,
  escalation_level integer NOT NULL DEFAULT 0,
  escalated_at timestamptz,
  first_response_at timestamptz,
  resolution text NOT NULL DEFAULT '',
  resolved_at timestamptz,
  resolved_by uuid,
  refund_id uuid REFERENCES refunds(id) ON DELETE SET NULL,
  closed_at timestamptz,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_support_tickets_number UNIQUE (number),
  CONSTRAINT ck_support_tickets_has_owner CHECK (customer_id IS NOT NULL OR org_id IS NOT NULL)
);
CREATE INDEX ix_support_tickets_active_sla ON support_tickets (sla_due_at, id)
  WHERE status IN ('open', 'in_progress');
CREATE INDEX ix_support_tickets_org ON support_tickets (org_id, created_at DESC);
CREATE INDEX ix_support_tickets_customer ON support_tickets (customer_id, created_at DESC);
CREATE INDEX ix_support_tickets_booking ON support_tickets (booking_id);
CREATE INDEX ix_support_tickets_assignee ON support_tickets (assignee_id) WHERE assignee_id IS NOT NULL;

CREATE TABLE support_comments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  ticket_id uuid NOT NULL REFERENCES support_tickets(id) ON DELETE CASCADE,
  org_id uuid,
  author_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  author_role varchar(20) NOT NULL,
  body text NOT NULL,
  internal boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_support_comments_ticket ON support_comments (ticket_id, created_at, id);
"""

# A customer's own ticket: about no booking (and so no org), or about one of their bookings
# with that booking's org. Qualified column names: the subquery must read the outer row.
CUSTOMER_TICKET = """customer_id = app_user_id() AND (
  (support_tickets.booking_id IS NULL AND support_tickets.org_id IS NULL)
  OR EXISTS (SELECT 1 FROM bookings b WHERE b.id = support_tickets.booking_id
             AND b.customer_id = app_user_id() AND b.org_id = support_tickets.org_id))"""
# A comment is visible with its ticket (EXISTS applies the ticket's own policies).
TICKET_VISIBLE = ("EXISTS (SELECT 1 FROM support_tickets t "
                  "WHERE t.id = support_comments.ticket_id)")


def _policies() -> list[str]:
    app = rls.app_role_name()
    return [
        *rls.enable("verification_submissions"),
        rls.policy("verification_submissions", "admin", "app_is_admin()"),
        rls.policy("verification_submissions", "staff_read", "app_is_staff_of(org_id)",
                   command="SELECT"),
        rls.policy("verification_submissions", "staff_submit",
                   "app_is_staff_of(org_id) AND status = 'pending'", command="INSERT"),
        # Staff supersede their own open submissions; decisions are the admins'.
        rls.policy("verification_submissions", "staff_supersede",
                   "app_is_staff_of(org_id) AND status IN ('pending', 'under_review')",
                   check="app_is_staff_of(org_id) AND status = 'superseded'",
                   command="UPDATE"),
        rls.policy("verification_submissions", "driver_read", "driver_id = app_driver_id()",
                   command="SELECT"),
        *rls.enable("support_tickets"),
        rls.policy("support_tickets", "admin", "app_is_admin()"),
        rls.policy("support_tickets", "staff", "app_is_staff_of(org_id)"),
        rls.policy("support_tickets", "customer_read", "customer_id = app_user_id()",
                   command="SELECT"),
        rls.policy("support_tickets", "customer_open", CUSTOMER_TICKET, command="INSERT"),
        rls.policy("support_tickets", "customer_update", "customer_id = app_user_id()",
                   check=CUSTOMER_TICKET, command="UPDATE"),
        f"GRANT USAGE, SELECT ON SEQUENCE support_tickets_number_seq TO {app}",
        *rls.enable("support_comments"),
        rls.policy("support_comments", "admin", "app_is_admin()"),
        rls.policy("support_comments", "staff",
                   f"app_role() IN ('mover_admin', 'dispatcher') AND {TICKET_VISIBLE}"),
        rls.policy("support_comments", "customer_read",
                   f"app_role() = 'customer' AND NOT internal AND {TICKET_VISIBLE}",
                   command="SELECT"),
        rls.policy("support_comments", "customer_write",
                   f"app_role() = 'customer' AND NOT internal AND author_id = app_user_id() "
                   f"AND {TICKET_VISIBLE}", command="INSERT"),
    ]


def upgrade() -> None:
    op.execute(TABLES)
    for statement in _policies():
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS support_comments, support_tickets, "
               "verification_submissions CASCADE")
