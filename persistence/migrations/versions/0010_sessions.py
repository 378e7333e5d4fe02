"""Sessions that end: a per-user token version and the time an account was deactivated.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Access tokens carry the version they were issued under; bumping it refuses them all.
# deactivated_at lets refresh refuse links issued before the last deactivation.
UPGRADE = """
ALTER TABLE users
  ADD COLUMN token_version integer NOT NULL DEFAULT 0
    CONSTRAINT ck_users_token_version_non_negative CHECK (token_version >= 0),
  ADD COLUMN deactivated_at timestamptz
"""

DOWNGRADE = """
ALTER TABLE users DROP COLUMN IF EXISTS deactivated_at, DROP COLUMN IF EXISTS token_version
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
