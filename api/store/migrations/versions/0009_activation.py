"""Activation links: one-time links that let an account holder set their password (new
accounts from a roster, resets by staff), instead of the guessable ``edu@`` + the ID's
last six (docs/decisions/0023)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'activation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('created_ms', sa.BigInteger(), nullable=False),
        sa.Column('expires_ms', sa.BigInteger(), nullable=False),
        sa.Column('used_ms', sa.BigInteger(), nullable=True),
        sa.Column('replaced_ms', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('activation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activation_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('activation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activation_user_id'))
    op.drop_table('activation')
