"""Item banks: the images their items refer to, stored once per bank by content hash
(decision 0032)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 21:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bank_version_id", sa.Integer(), nullable=True),
        sa.Column("mime", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"], name=op.f("fk_bank_media_bank_id_bank")),
        sa.ForeignKeyConstraint(
            ["bank_version_id"],
            ["bank_version.id"],
            name=op.f("fk_bank_media_bank_version_id_bank_version"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_media")),
        sa.UniqueConstraint("bank_id", "sha256", name=op.f("uq_bank_media_bank_id_sha256")),
    )
    with op.batch_alter_table("bank_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bank_media_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bank_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_media_sha256"))
    op.drop_table("bank_media")
