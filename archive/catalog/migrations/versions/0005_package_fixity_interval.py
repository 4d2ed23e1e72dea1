"""Each package keeps its fixity interval: packages.fixity_interval_days (NULL: not recorded)

Recorded at ingest from the package's profile, so an audit knows when a package is due without
finding the profile again (a custom profile's folder may not be configured in the shell or
service that runs the audit). Packages catalogued before this revision get NULL; the next audit
that can find their profile records it, and one that cannot refuses to guess (docs/operations.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fixity_interval_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_column("fixity_interval_days")
