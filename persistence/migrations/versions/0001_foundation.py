"""Foundation: organizations, users, auth secrets, fleet, bookings, assignments, history, outbox.

Revision ID: 0001
Revises:
"""

from alembic import op

from persistence.migrations import rls

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CONTEXT_FUNCTIONS = """
CREATE OR REPLACE FUNCTION app_role() RETURNS text LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('app.role', true), '') $$;
CREATE OR REPLACE FUNCTION app_user_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION app_org_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('app.org_id', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION app_driver_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('app.driver_id', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION app_is_admin() RETURNS boolean LANGUAGE sql STABLE AS
  $$ SELECT coalesce(app_role() IN ('platform_admin', 'system'), false) $$;
CREATE OR REPLACE FUNCTION app_is_staff_of(org uuid) RETURNS boolean LANGUAGE sql STABLE AS
  $$ SELECT coalesce(app_role() IN ('mover_admin', 'dispatcher') AND org = app_org_id(), false) $$;
"""

TABLES = """
CREATE TABLE organizations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name varchar(200) NOT NULL,
  code varchar(12) NOT NULL UNIQUE CONSTRAINT ck_organizations_code_format
    CHECK (code ~ '^[A-Z0-9]{2,12}$'),
  service_area geography(MultiPolygon, 4326) NOT NULL,
  base_location geography(Point, 4326) NOT NULL,
  hourly_rate_cents bigint NOT NULL,
  per_km_cents bigint NOT NULL,
  minimum_charge_cents bigint NOT NULL,
  currency varchar(3) NOT NULL DEFAULT 'USD',
  timezone varchar(64) NOT NULL DEFAULT 'UTC',
  contact_email varchar(320),
  contact_phone varchar(32),
  verified boolean NOT NULL DEFAULT false,
  active boolean NOT NULL DEFAULT true,
  rating_avg numeric(3,2) NOT NULL DEFAULT 0,
  rating_count bigint NOT NULL DEFAULT 0,
  refund_policy jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ck_organizations_pricing_non_negative
    CHECK (hourly_rate_cents >= 0 AND per_km_cents >= 0 AND minimum_charge_cents >= 0)
);
CREATE INDEX ix_organizations_service_area ON organizations USING gist (service_area);

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  role varchar(20) NOT NULL CONSTRAINT ck_users_role_known
    CHECK (role IN ('customer','driver','mover_admin','dispatcher','platform_admin')),
  org_id uuid REFERENCES organizations(id) ON DELETE CASCADE,
  email varchar(320) UNIQUE,
  phone varchar(32) UNIQUE,
  full_name varchar(200) NOT NULL DEFAULT '',
  active boolean NOT NULL DEFAULT true,
  notification_preferences jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ck_users_has_contact CHECK (email IS NOT NULL OR phone IS NOT NULL),
  CONSTRAINT ck_users_staff_have_org
    CHECK ((role IN ('mover_admin','dispatcher','driver')) = (org_id IS NOT NULL))
);
CREATE INDEX ix_users_org_id ON users (org_id);

CREATE TABLE otp_codes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  destination varchar(320) NOT NULL,
  channel varchar(8) NOT NULL,
  code_hash varchar(128) NOT NULL,
  expires_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  consumed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_otp_codes_destination ON otp_codes (destination, created_at DESC);

CREATE TABLE refresh_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  family_id uuid NOT NULL,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash varchar(128) NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  rotated_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX ix_refresh_tokens_user_id ON refresh_tokens (user_id);

CREATE TABLE drivers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  user_id uuid UNIQUE REFERENCES users(id) ON DELETE SET NULL,
  full_name varchar(200) NOT NULL,
  phone varchar(32),
  status varchar(16) NOT NULL DEFAULT 'active' CONSTRAINT ck_drivers_status_known
    CHECK (status IN ('active','inactive','suspended')),
  skills varchar[] NOT NULL DEFAULT ARRAY['driver']::varchar[] CONSTRAINT ck_drivers_skills_known
    CHECK (skills::text[] <@ ARRAY['driver','foreman','packer']::text[]),
  home_base geography(Point, 4326) NOT NULL,
  verified boolean NOT NULL DEFAULT false,
  rating_avg numeric(3,2) NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_drivers_org_id ON drivers (org_id);

CREATE TABLE trucks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  plate varchar(20) NOT NULL,
  capacity_m3 numeric(6,1) NOT NULL CONSTRAINT ck_trucks_capacity_positive CHECK (capacity_m3 > 0),
  status varchar(16) NOT NULL DEFAULT 'active' CONSTRAINT ck_trucks_status_known
    CHECK (status IN ('active','maintenance','retired')),
  home_base geography(Point, 4326),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_trucks_org_plate UNIQUE (org_id, plate)
);
CREATE INDEX ix_trucks_org_id ON trucks (org_id);

CREATE TABLE bookings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE RESTRICT,
  customer_id uuid NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
  pickup_address varchar(500) NOT NULL,
  pickup_location geography(Point, 4326) NOT NULL,
  dropoff_address varchar(500) NOT NULL,
  dropoff_location geography(Point, 4326) NOT NULL,
  window_start timestamptz NOT NULL,
  window_end timestamptz NOT NULL,
  volume_m3 numeric(6,1) NOT NULL,
  crew_size integer NOT NULL,
  required_skills varchar[] NOT NULL DEFAULT '{}',
  distance_km numeric(8,2) NOT NULL,
  price_cents bigint NOT NULL,
  currency varchar(3) NOT NULL,
  status varchar(16) NOT NULL DEFAULT 'pending',
  notes text NOT NULL DEFAULT '',
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ck_bookings_status_known CHECK (status IN ('pending','confirmed','assigned',
    'en_route','arrived','loading','in_transit','unloading','completed','cancelled','no_show',
    'disputed')),
  CONSTRAINT ck_bookings_window_ordered CHECK (window_end > window_start),
  CONSTRAINT ck_bookings_volume_positive CHECK (volume_m3 > 0),
  CONSTRAINT ck_bookings_crew_size_range CHECK (crew_size BETWEEN 1 AND 12),
  CONSTRAINT ck_bookings_price_non_negative CHECK (price_cents >= 0)
);
CREATE INDEX ix_bookings_org_id ON bookings (org_id, window_start);
CREATE INDEX ix_bookings_customer_id ON bookings (customer_id);
CREATE INDEX ix_bookings_window_start ON bookings (window_start);

CREATE TABLE booking_assignments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE RESTRICT,
  booking_id uuid NOT NULL REFERENCES bookings(id) ON DELETE CASCADE,
  driver_id uuid NOT NULL REFERENCES drivers(id) ON DELETE RESTRICT,
  truck_id uuid NOT NULL REFERENCES trucks(id) ON DELETE RESTRICT,
  "window" tstzrange NOT NULL,
  active boolean NOT NULL DEFAULT true,
  method varchar(16) NOT NULL DEFAULT 'manual',
  score jsonb,
  assigned_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  released_at timestamptz,
  CONSTRAINT ex_assignments_driver_overlap
    EXCLUDE USING gist (driver_id WITH =, "window" WITH &&) WHERE (active),
  CONSTRAINT ex_assignments_truck_overlap
    EXCLUDE USING gist (truck_id WITH =, "window" WITH &&) WHERE (active)
);
CREATE INDEX ix_booking_assignments_org_id ON booking_assignments (org_id);
CREATE INDEX ix_booking_assignments_booking_id ON booking_assignments (booking_id);
CREATE UNIQUE INDEX uq_booking_assignments_active_booking
  ON booking_assignments (booking_id) WHERE active;

CREATE TABLE booking_status_history (
  id bigserial PRIMARY KEY,
  booking_id uuid NOT NULL REFERENCES bookings(id) ON DELETE CASCADE,
  org_id uuid NOT NULL,
  from_status varchar(16),
  to_status varchar(16) NOT NULL,
  actor_user_id uuid,
  actor_role varchar(20) NOT NULL,
  reason text NOT NULL DEFAULT '',
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_booking_status_history_booking_id ON booking_status_history (booking_id, id);
CREATE INDEX ix_booking_status_history_org_id ON booking_status_history (org_id);

CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  org_id uuid,
  topic varchar(64) NOT NULL,
  aggregate_id varchar(64) NOT NULL DEFAULT '',
  payload jsonb NOT NULL DEFAULT '{}',
  idempotency_key varchar(200) NOT NULL UNIQUE,
  status varchar(16) NOT NULL DEFAULT 'pending' CONSTRAINT ck_outbox_status_known
    CHECK (status IN ('pending','delivered','dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz
);
CREATE INDEX ix_outbox_pending ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX ix_outbox_org_id ON outbox (org_id);
"""

# Columns of the policy's own table are qualified: inside EXISTS an unqualified `id` would
# name the subquery's table.
BOOKING_VISIBLE = (
    "EXISTS (SELECT 1 FROM bookings b WHERE b.id = booking_status_history.booking_id)"
)
DRIVER_HOLDS_BOOKING = (
    "EXISTS (SELECT 1 FROM booking_assignments a WHERE a.booking_id = bookings.id"
    " AND a.driver_id = app_driver_id() AND a.active)"
)


def _policies() -> list[str]:
    anyone = "app_role() IS NOT NULL"
    return [
        # Organizations are a public directory for signed-in callers; only their admins edit.
        *rls.enable("organizations"),
        rls.policy("organizations", "read", anyone, command="SELECT"),
        rls.policy("organizations", "onboard", anyone, command="INSERT"),
        rls.policy("organizations", "admin", "app_is_admin()"),
        rls.policy("organizations", "owner", "app_role() = 'mover_admin' AND id = app_org_id()",
                   command="UPDATE"),
        *rls.enable("users"),
        rls.policy("users", "admin", "app_is_admin()"),
        rls.policy("users", "self", "id = app_user_id()", command="SELECT"),
        rls.policy("users", "self_update", "id = app_user_id()", command="UPDATE"),
        rls.policy("users", "staff", "app_is_staff_of(org_id)"),
        *rls.enable("otp_codes"),
        rls.policy("otp_codes", "system", "app_role() = 'system'"),
        *rls.enable("refresh_tokens"),
        rls.policy("refresh_tokens", "system", "app_role() = 'system'"),
        *rls.tenant_table("drivers", driver_reads="id = app_driver_id()"),
        *rls.tenant_table("trucks", driver_reads="org_id = app_org_id()"),
        *rls.tenant_table("bookings"),
        rls.policy("bookings", "customer", "customer_id = app_user_id()"),
        rls.policy("bookings", "driver_read", DRIVER_HOLDS_BOOKING, command="SELECT"),
        rls.policy("bookings", "driver_update", DRIVER_HOLDS_BOOKING, command="UPDATE"),
        *rls.tenant_table("booking_assignments", driver_reads="driver_id = app_driver_id()"),
        *rls.tenant_table("booking_status_history"),
        rls.policy("booking_status_history", "participant_read", BOOKING_VISIBLE,
                   command="SELECT"),
        rls.policy("booking_status_history", "participant_write", BOOKING_VISIBLE,
                   command="INSERT"),
        *rls.enable("outbox"),
        rls.policy("outbox", "admin", "app_is_admin()"),
        rls.policy("outbox", "enqueue", anyone, command="INSERT"),
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {rls.app_role_name()}",
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(CONTEXT_FUNCTIONS)
    op.execute(TABLES)
    for statement in _policies():
        op.execute(statement)


def downgrade() -> None:
    for table in ("outbox", "booking_status_history", "booking_assignments", "bookings",
                  "trucks", "drivers", "refresh_tokens", "otp_codes", "users", "organizations"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    for fn in ("app_is_staff_of(uuid)", "app_is_admin()", "app_driver_id()", "app_org_id()",
               "app_user_id()", "app_role()"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
