"""Ratings with their aggregate counters, notification deliveries, and the outbox wake-up signal.

Revision ID: 0006
Revises: 0004
"""

from alembic import op

from persistence.migrations import rls

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE ratings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  booking_id uuid NOT NULL REFERENCES bookings(id) ON DELETE CASCADE,
  customer_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  driver_id uuid REFERENCES drivers(id) ON DELETE SET NULL,
  overall smallint NOT NULL CONSTRAINT ck_ratings_overall_range CHECK (overall BETWEEN 1 AND 5),
  driver_rating smallint CONSTRAINT ck_ratings_driver_rating_range
    CHECK (driver_rating BETWEEN 1 AND 5),
  comment text NOT NULL DEFAULT '',
  hidden boolean NOT NULL DEFAULT false,
  hidden_reason text NOT NULL DEFAULT '',
  hidden_by uuid,
  hidden_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_ratings_booking_id UNIQUE (booking_id)
);
CREATE INDEX ix_ratings_org_recent ON ratings (org_id, created_at DESC, id DESC) WHERE NOT hidden;
CREATE INDEX ix_ratings_driver_id ON ratings (driver_id);
CREATE INDEX ix_ratings_customer_id ON ratings (customer_id);

CREATE TABLE organization_rating_stats (
  org_id uuid PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  rating_sum bigint NOT NULL DEFAULT 0,
  rating_count bigint NOT NULL DEFAULT 0,
  stars_1 bigint NOT NULL DEFAULT 0,
  stars_2 bigint NOT NULL DEFAULT 0,
  stars_3 bigint NOT NULL DEFAULT 0,
  stars_4 bigint NOT NULL DEFAULT 0,
  stars_5 bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ck_organization_rating_stats_non_negative CHECK (rating_sum >= 0 AND rating_count >= 0
    AND stars_1 >= 0 AND stars_2 >= 0 AND stars_3 >= 0 AND stars_4 >= 0 AND stars_5 >= 0)
);

CREATE TABLE driver_rating_stats (
  driver_id uuid PRIMARY KEY REFERENCES drivers(id) ON DELETE CASCADE,
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  rating_sum bigint NOT NULL DEFAULT 0,
  rating_count bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ck_driver_rating_stats_non_negative CHECK (rating_sum >= 0 AND rating_count >= 0)
);
CREATE INDEX ix_driver_rating_stats_org_id ON driver_rating_stats (org_id);

CREATE TABLE notification_deliveries (
  id bigserial PRIMARY KEY,
  outbox_id bigint NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
  org_id uuid,
  channel varchar(8) NOT NULL CONSTRAINT ck_notification_deliveries_channel_known
    CHECK (channel IN ('email', 'sms')),
  template varchar(64) NOT NULL,
  destination varchar(320) NOT NULL,
  provider varchar(16) NOT NULL,
  provider_message_id varchar(200) NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_notification_deliveries_outbox_channel UNIQUE (outbox_id, channel)
);
CREATE INDEX ix_notification_deliveries_org_id ON notification_deliveries (org_id);

CREATE OR REPLACE FUNCTION outbox_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('movehub_outbox', '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_wake();
"""

VISIBLE_REVIEW = "NOT hidden AND app_role() IS NOT NULL"
OWN_RATING = "customer_id = app_user_id() AND app_role() = 'customer'"


def _policies() -> list[str]:
    return [
        # Ratings: the org's staff and platform admins see all; customers write their own;
        # every signed-in caller reads reviews that are not hidden.
        *rls.enable("ratings"),
        rls.policy("ratings", "admin", "app_is_admin()"),
        rls.policy("ratings", "staff", "app_is_staff_of(org_id)", command="SELECT"),
        rls.policy("ratings", "public_read", VISIBLE_REVIEW, command="SELECT"),
        rls.policy("ratings", "own_read", OWN_RATING, command="SELECT"),
        rls.policy("ratings", "own_insert", OWN_RATING, command="INSERT"),
        rls.policy("ratings", "own_update", OWN_RATING, command="UPDATE"),
        rls.policy("ratings", "own_delete", OWN_RATING, command="DELETE"),
        # Counters are written only by the system step of the rating use case.
        *rls.enable("organization_rating_stats"),
        rls.policy("organization_rating_stats", "admin", "app_is_admin()"),
        rls.policy("organization_rating_stats", "read", "app_role() IS NOT NULL",
                   command="SELECT"),
        *rls.enable("driver_rating_stats"),
        rls.policy("driver_rating_stats", "admin", "app_is_admin()"),
        rls.policy("driver_rating_stats", "staff", "app_is_staff_of(org_id)", command="SELECT"),
        *rls.enable("notification_deliveries"),
        rls.policy("notification_deliveries", "admin", "app_is_admin()"),
        rls.policy("notification_deliveries", "staff", "app_is_staff_of(org_id)",
                   command="SELECT"),
        f"GRANT USAGE, SELECT ON SEQUENCE notification_deliveries_id_seq TO {rls.app_role_name()}",
    ]


def upgrade() -> None:
    op.execute(TABLES)
    for statement in _policies():
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_wake ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_wake()")
    for table in ("notification_deliveries", "driver_rating_stats", "organization_rating_stats",
                  "ratings"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
