"""Item banks: calibrations, the IRT parameters fitted to a bank version's formal
responses, and their items' parameters (decision 0039)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 00:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calibration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("bank_version_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=8), nullable=False),
        sa.Column("fitter", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("learners", sa.Integer(), nullable=False),
        sa.Column("link_method", sa.String(length=16), nullable=False),
        sa.Column("link_a", sa.Float(), nullable=False),
        sa.Column("link_b", sa.Float(), nullable=False),
        sa.Column("link_anchors", sa.Integer(), nullable=False),
        sa.Column("link_previous", sa.Integer(), nullable=True),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("iterations", sa.Integer(), nullable=False),
        sa.Column("log_likelihood", sa.Float(), nullable=True),
        sa.Column("min_responses", sa.Integer(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.CheckConstraint("model IN ('rasch', '2pl')", name=op.f("ck_calibration_model")),
        sa.CheckConstraint(
            "link_method IN ('none', 'stocking_lord', 'mean_sigma')",
            name=op.f("ck_calibration_link_method"),
        ),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"], name=op.f("fk_calibration_bank_id_bank")),
        sa.ForeignKeyConstraint(
            ["bank_version_id"],
            ["bank_version.id"],
            name=op.f("fk_calibration_bank_version_id_bank_version"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user.id"],
            name=op.f("fk_calibration_created_by_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration")),
        sa.UniqueConstraint("bank_id", "number", name=op.f("uq_calibration_bank_id_number")),
    )
    with op.batch_alter_table("calibration", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calibration_bank_version_id"), ["bank_version_id"], unique=False
        )
    op.create_table(
        "calibration_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calibration_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=120), nullable=False),
        sa.Column("a", sa.Float(), nullable=False),
        sa.Column("b", sa.Float(), nullable=False),
        sa.Column("se_a", sa.Float(), nullable=True),
        sa.Column("se_b", sa.Float(), nullable=True),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("infit", sa.Float(), nullable=True),
        sa.Column("outfit", sa.Float(), nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("anchor", sa.Boolean(), nullable=False),
        sa.Column("drift_a", sa.Float(), nullable=True),
        sa.Column("drift_b", sa.Float(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["calibration_id"],
            ["calibration.id"],
            name=op.f("fk_calibration_item_calibration_id_calibration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_item")),
        sa.UniqueConstraint(
            "calibration_id", "item_key", name=op.f("uq_calibration_item_calibration_id_item_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("calibration_item")
    with op.batch_alter_table("calibration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calibration_bank_version_id"))
    op.drop_table("calibration")
