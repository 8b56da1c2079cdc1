"""Initial schema: user, bank, bank_version, bank_item, item_response.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 11:03:11.128097
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('bank',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank')),
    sa.UniqueConstraint('name', name=op.f('uq_bank_name'))
    )
    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('must_change_password', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user')),
    sa.UniqueConstraint('login', name=op.f('uq_user_login'))
    )
    op.create_table('bank_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('source_format', sa.String(length=32), nullable=False),
    sa.Column('source_name', sa.String(length=255), nullable=False),
    sa.Column('content_hash', sa.String(length=128), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("state IN ('draft', 'published')", name=op.f('ck_bank_version_state')),
    sa.ForeignKeyConstraint(['bank_id'], ['bank.id'], name=op.f('fk_bank_version_bank_id_bank')),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], name=op.f('fk_bank_version_created_by_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_version')),
    sa.UniqueConstraint('bank_id', 'version', name=op.f('uq_bank_version_bank_id_version'))
    )
    with op.batch_alter_table('bank_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_version_bank_id'), ['bank_id'], unique=False)

    op.create_table('bank_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['bank_version_id'], ['bank_version.id'], name=op.f('fk_bank_item_bank_version_id_bank_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_item')),
    sa.UniqueConstraint('bank_version_id', 'key', name=op.f('uq_bank_item_bank_version_id_key'))
    )
    with op.batch_alter_table('bank_item', schema=None) as batch_op:
        batch_op.create_index('ix_bank_item_bank_version_id_topic', ['bank_version_id', 'topic'], unique=False)

    op.create_table('item_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_version_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=120), nullable=False),
    sa.Column('learner_ref', sa.String(length=64), nullable=False),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('max_score', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bank_version_id'], ['bank_version.id'], name=op.f('fk_item_response_bank_version_id_bank_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_response'))
    )
    with op.batch_alter_table('item_response', schema=None) as batch_op:
        batch_op.create_index('ix_item_response_bank_version_id_item_key', ['bank_version_id', 'item_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('item_response', schema=None) as batch_op:
        batch_op.drop_index('ix_item_response_bank_version_id_item_key')

    op.drop_table('item_response')
    with op.batch_alter_table('bank_item', schema=None) as batch_op:
        batch_op.drop_index('ix_bank_item_bank_version_id_topic')

    op.drop_table('bank_item')
    with op.batch_alter_table('bank_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_version_bank_id'))

    op.drop_table('bank_version')
    op.drop_table('user')
    op.drop_table('bank')
