"""access and usage: API tokens, access log, incidents, search index

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-28 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

TERM = sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_id", sa.String(length=16), nullable=True),
        sa.Column("caller", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("package_id", sa.String(length=36), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("byte_range", sa.String(length=64), nullable=False),
        sa.Column("bytes_planned", sa.BigInteger(), nullable=False),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index("ix_access_log_package_time", ["package_id", "occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_log_occurred_at"), ["occurred_at"], unique=False)

    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("package_id", sa.String(length=36), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("token_id", sa.String(length=16), nullable=True),
        sa.Column("caller", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_occurred_at"), ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_package_id"), ["package_id"], unique=False)

    op.create_table(
        "search_terms",
        sa.Column("term", TERM, nullable=False),
        sa.Column("package_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["package_id"], ["packages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("term", "package_id"),
    )
    with op.batch_alter_table("search_terms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_terms_package_id"), ["package_id"], unique=False)

    op.create_table(
        "search_dates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("package_id", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=128), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["package_id"], ["packages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("search_dates", schema=None) as batch_op:
        batch_op.create_index("ix_search_dates_field_start", ["field", "start"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_dates_package_id"), ["package_id"], unique=False)

    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.create_index("ix_packages_retrieval", ["id", "access_level", "profile_id", "created_at"], unique=False)

    # packages catalogued before this revision: index their descriptive metadata now
    from archive.catalog.search_index import backfill

    backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_index("ix_packages_retrieval")
    with op.batch_alter_table("search_dates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_dates_package_id"))
        batch_op.drop_index("ix_search_dates_field_start")
    op.drop_table("search_dates")
    with op.batch_alter_table("search_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_terms_package_id"))
    op.drop_table("search_terms")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_package_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_occurred_at"))
    op.drop_table("incidents")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_log_occurred_at"))
        batch_op.drop_index("ix_access_log_package_time")
    op.drop_table("access_log")
    op.drop_table("api_tokens")
