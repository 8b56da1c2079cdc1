"""Accounts: the learner's profile on user (resident ID, phone, gender, employer,
district, remark) and account_event (who registered, imported, reset or changed what).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 11:57:10.292751
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('account_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_account_event_actor_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_account_event_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_event'))
    )
    with op.batch_alter_table('account_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_event_user_id'), ['user_id'], unique=False)

    # Nullable: the accounts that exist already have no profile.
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resident_id', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=11), nullable=True))
        batch_op.add_column(sa.Column('gender', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('employer', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('district', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('remark', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_user_phone'), ['phone'])
        batch_op.create_unique_constraint(batch_op.f('uq_user_resident_id'), ['resident_id'])
        batch_op.create_check_constraint(batch_op.f('ck_user_gender'), "gender IN ('male', 'female')")


def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_user_gender'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_user_resident_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_user_phone'), type_='unique')
        batch_op.drop_column('remark')
        batch_op.drop_column('district')
        batch_op.drop_column('employer')
        batch_op.drop_column('gender')
        batch_op.drop_column('phone')
        batch_op.drop_column('resident_id')

    with op.batch_alter_table('account_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_event_user_id'))

    op.drop_table('account_event')
