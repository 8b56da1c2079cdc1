"""Records and evidence (docs/decisions/0027): certificates, the integrity log's hash
chains (one per learner) with their heads, and the log's signed checkpoints.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 18:23:08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('integrity_checkpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('prev', sa.String(length=64), nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('leaves', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=40), nullable=False),
    sa.Column('sig', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integrity_checkpoint'))
    )
    op.create_table('certificate',
    sa.Column('number', sa.String(length=24), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('kid', sa.String(length=40), nullable=False),
    sa.Column('sig', sa.String(length=100), nullable=False),
    sa.Column('issued_ms', sa.BigInteger(), nullable=False),
    sa.Column('cause', sa.String(length=32), nullable=False),
    sa.Column('supersedes', sa.String(length=24), nullable=True),
    sa.Column('superseded_by', sa.String(length=24), nullable=True),
    sa.Column('superseded_ms', sa.BigInteger(), nullable=True),
    sa.Column('revoked_ms', sa.BigInteger(), nullable=True),
    sa.Column('revoked_reason', sa.String(length=500), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state IN ('current', 'superseded', 'revoked')", name=op.f('ck_certificate_state')),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_certificate_learner_id_user')),
    sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], name=op.f('fk_certificate_plan_id_plan')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user.id'], name=op.f('fk_certificate_revoked_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_certificate'))
    )
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_learner_id'), ['learner_id'], unique=False)
        batch_op.create_index('uq_certificate_current', ['learner_id', 'plan_id'], unique=True, sqlite_where=sa.text("state = 'current'"), postgresql_where=sa.text("state = 'current'"))

    op.create_table('integrity_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('ref', sa.String(length=160), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('prev', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['integrity_checkpoint.id'], name=op.f('fk_integrity_entry_checkpoint_id_integrity_checkpoint')),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_integrity_entry_learner_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integrity_entry')),
    sa.UniqueConstraint('learner_id', 'seq', name=op.f('uq_integrity_entry_learner_id_seq'))
    )
    with op.batch_alter_table('integrity_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_integrity_entry_checkpoint_id'), ['checkpoint_id'], unique=False)

    op.create_table('integrity_head',
    sa.Column('learner_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('pending', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_integrity_head_learner_id_user')),
    sa.PrimaryKeyConstraint('learner_id', name=op.f('pk_integrity_head'))
    )
    with op.batch_alter_table('integrity_head', schema=None) as batch_op:
        batch_op.create_index('ix_integrity_head_pending', ['learner_id'], unique=False, sqlite_where=sa.text('pending'), postgresql_where=sa.text('pending'))



def downgrade() -> None:
    with op.batch_alter_table('integrity_head', schema=None) as batch_op:
        batch_op.drop_index('ix_integrity_head_pending', sqlite_where=sa.text('pending'), postgresql_where=sa.text('pending'))

    op.drop_table('integrity_head')
    with op.batch_alter_table('integrity_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_integrity_entry_checkpoint_id'))

    op.drop_table('integrity_entry')
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index('uq_certificate_current', sqlite_where=sa.text("state = 'current'"), postgresql_where=sa.text("state = 'current'"))
        batch_op.drop_index(batch_op.f('ix_certificate_learner_id'))

    op.drop_table('certificate')
    op.drop_table('integrity_checkpoint')
