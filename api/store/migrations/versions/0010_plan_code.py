"""Activation codes: one-use codes bound to a plan, sold for a bank transfer
(docs/decisions/0024)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 13:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'plan_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('serial', sa.String(length=32), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('batch', sa.String(length=32), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('employer', sa.String(length=200), nullable=True),
        sa.Column('created_ms', sa.BigInteger(), nullable=False),
        sa.Column('expires_ms', sa.BigInteger(), nullable=False),
        sa.Column('issued_by', sa.Integer(), nullable=True),
        sa.Column('redeemed_by', sa.Integer(), nullable=True),
        sa.Column('redeemed_ms', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['issued_by'], ['user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['plan_id'], ['plan.id']),
        sa.ForeignKeyConstraint(['redeemed_by'], ['user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code_hash'),
        sa.UniqueConstraint('serial'),
    )
    with op.batch_alter_table('plan_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_code_batch'), ['batch'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('plan_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_code_batch'))
    op.drop_table('plan_code')
