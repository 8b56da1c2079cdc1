"""Exams, their spec versions, and the learners' papers: exam, exam_version, paper.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 11:36:39.814517
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('exam',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exam')),
    sa.UniqueConstraint('key', name=op.f('uq_exam_key'))
    )
    op.create_table('exam_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('spec', sa.Text(), nullable=False),
    sa.Column('bank_version_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("state IN ('draft', 'published')", name=op.f('ck_exam_version_state')),
    sa.ForeignKeyConstraint(['bank_version_id'], ['bank_version.id'], name=op.f('fk_exam_version_bank_version_id_bank_version')),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], name=op.f('fk_exam_version_created_by_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['exam_id'], ['exam.id'], name=op.f('fk_exam_version_exam_id_exam')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exam_version')),
    sa.UniqueConstraint('exam_id', 'version', name=op.f('uq_exam_version_exam_id_version'))
    )
    with op.batch_alter_table('exam_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exam_version_bank_version_id'), ['bank_version_id'], unique=False)

    op.create_table('paper',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exam_version_id', sa.Integer(), nullable=False),
    sa.Column('learner_ref', sa.String(length=64), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('seed', sa.String(length=16), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['exam_version_id'], ['exam_version.id'], name=op.f('fk_paper_exam_version_id_exam_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper')),
    sa.UniqueConstraint('exam_version_id', 'learner_ref', 'attempt', name=op.f('uq_paper_exam_version_id_learner_ref_attempt'))
    )


def downgrade() -> None:
    op.drop_table('paper')
    with op.batch_alter_table('exam_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exam_version_bank_version_id'))

    op.drop_table('exam_version')
    op.drop_table('exam')
