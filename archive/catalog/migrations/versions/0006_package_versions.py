"""Package versions: package_versions, packages.version and .held, package_files.since/until_version

Every package is an OCFL object whose versions are complete bags (decision 0009). The catalog
keeps one row per version (what its METS and bag-info said, who made it and why), the head's
number and whether a legal hold is on the package; a file row holds for the versions
``since_version`` up to, not including, ``until_version`` (NULL: the head), so a withdrawn or
changed file keeps its row for the versions that hold it. Packages catalogued before this
revision are at version 1, and their version row is made from their package row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


#: how 0001's unnamed unique constraint (package_id, path) is named to drop it: PostgreSQL named it
#: itself; on SQLite the batch copy reflects it under this convention
_UNNAMED = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return "package_files_package_id_path_key"
    return "uq_package_files_package_id"


def upgrade() -> None:
    # plain ALTER TABLE ADD COLUMN, never a copy of the table: on SQLite, dropping the old copy of
    # ``packages`` would cascade to every row that references it (files, events, agents, ...)
    op.add_column("packages", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("packages", sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("package_files", schema=None, naming_convention=_UNNAMED) as batch_op:
        batch_op.add_column(sa.Column("since_version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("until_version", sa.Integer(), nullable=True))
        batch_op.create_index("ix_package_files_until_version", ["until_version"])
        # a path is unique per version it starts in, no longer per package (a changed file keeps its row)
        batch_op.drop_constraint(_old_unique(), type_="unique")
        batch_op.create_unique_constraint("uq_package_files_version_path", ["package_id", "path", "since_version"])
    op.create_table(
        "package_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("package_id", sa.String(36), sa.ForeignKey("packages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("agent", sa.Text(), nullable=False),
        sa.Column("mets_sha256", sa.String(64), nullable=False),
        sa.Column("tag_digests", sa.JSON(), nullable=False),
        sa.Column("descriptive", sa.JSON(), nullable=False),
        sa.Column("dublin_core", sa.JSON(), nullable=False),
        sa.Column("bag_info", sa.JSON(), nullable=False),
        sa.Column("access_level", sa.String(32), nullable=False),
        sa.Column("embargo_until", sa.Date(), nullable=True),
        sa.Column("access_statement", sa.Text(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("package_id", "number"),
    )
    op.create_index("ix_package_versions_package_id", "package_versions", ["package_id"])
    op.execute(
        "INSERT INTO package_versions (package_id, number, created_at, kind, reason, agent, mets_sha256, "
        "tag_digests, descriptive, dublin_core, bag_info, access_level, embargo_until, access_statement, held, "
        "file_count, total_bytes) SELECT id, 1, created_at, 'ingest', '', '', mets_sha256, tag_digests, "
        "descriptive, dublin_core, bag_info, access_level, embargo_until, access_statement, held, file_count, "
        "total_bytes FROM packages"
    )


def downgrade() -> None:
    op.drop_index("ix_package_versions_package_id", table_name="package_versions")
    op.drop_table("package_versions")
    with op.batch_alter_table("package_files", schema=None) as batch_op:
        batch_op.drop_constraint("uq_package_files_version_path", type_="unique")
        batch_op.create_unique_constraint("package_files_package_id_path_key", ["package_id", "path"])
        batch_op.drop_index("ix_package_files_until_version")
        batch_op.drop_column("until_version")
        batch_op.drop_column("since_version")
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_column("held")
        batch_op.drop_column("version")
