"""Disposal: disposal_proposals (proposed, approved by a second person, executed) and tombstones

A disposed package's rows are deleted; its tombstone row (and the same document in every storage
root) says what was disposed of, why, who proposed and who approved.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disposal_proposals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposer", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("package_ids", sa.JSON(), nullable=False),
        sa.Column("approver", sa.Text(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index("ix_disposal_proposals_created_at", "disposal_proposals", ["created_at"])
    op.create_table(
        "tombstones",
        sa.Column("package_id", sa.String(36), primary_key=True),
        sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposal_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposer", sa.Text(), nullable=False),
        sa.Column("approver", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("profile_id", sa.String(64), nullable=False),
        sa.Column("access_level", sa.String(32), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tombstones")
    op.drop_index("ix_disposal_proposals_created_at", table_name="disposal_proposals")
    op.drop_table("disposal_proposals")
