"""Attempts: enrollment, attempt, answer_step (append-only), attempt_event, attempt_override.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 11:57:16.233430
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('enrollment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('exam_key', sa.String(length=120), nullable=False),
    sa.Column('study_cycle', sa.Integer(), nullable=False),
    sa.Column('study_met', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_enrollment_learner_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollment')),
    sa.UniqueConstraint('learner_id', 'exam_key', name=op.f('uq_enrollment_learner_id_exam_key'))
    )
    op.create_table('attempt',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('exam_key', sa.String(length=120), nullable=False),
    sa.Column('exam_version_id', sa.Integer(), nullable=False),
    sa.Column('paper_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('practice', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('policy', sa.String(length=16), nullable=False),
    sa.Column('grace_ms', sa.Integer(), nullable=False),
    sa.Column('started_ms', sa.BigInteger(), nullable=False),
    sa.Column('deadline_ms', sa.BigInteger(), nullable=False),
    sa.Column('next_check_ms', sa.BigInteger(), nullable=True),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('finished_ms', sa.BigInteger(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('max_score', sa.Float(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.CheckConstraint("state IN ('in_progress', 'overdue', 'submitted', 'expired', 'terminated')", name=op.f('ck_attempt_state')),
    sa.ForeignKeyConstraint(['exam_version_id'], ['exam_version.id'], name=op.f('fk_attempt_exam_version_id_exam_version')),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_attempt_learner_id_user')),
    sa.ForeignKeyConstraint(['paper_id'], ['paper.id'], name=op.f('fk_attempt_paper_id_paper')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempt')),
    sa.UniqueConstraint('learner_id', 'exam_key', 'practice', 'number', name=op.f('uq_attempt_learner_id_exam_key_practice_number'))
    )
    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attempt_next_check_ms'), ['next_check_ms'], unique=False)

    op.create_table('answer_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.String(length=32), nullable=False),
    sa.Column('item_key', sa.String(length=120), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('saved_ms', sa.BigInteger(), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempt.id'], name=op.f('fk_answer_step_attempt_id_attempt')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answer_step')),
    sa.UniqueConstraint('attempt_id', 'item_key', 'seq', name=op.f('uq_answer_step_attempt_id_item_key_seq'))
    )
    op.create_table('attempt_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempt.id'], name=op.f('fk_attempt_event_attempt_id_attempt')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempt_event'))
    )
    with op.batch_alter_table('attempt_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attempt_event_attempt_id'), ['attempt_id'], unique=False)

    op.create_table('attempt_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('exam_key', sa.String(length=120), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.String(length=32), nullable=True),
    sa.Column('extra_time_ms', sa.BigInteger(), nullable=False),
    sa.Column('extra_attempts', sa.Integer(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempt.id'], name=op.f('fk_attempt_override_attempt_id_attempt')),
    sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_attempt_override_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_attempt_override_learner_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempt_override'))
    )
    with op.batch_alter_table('attempt_override', schema=None) as batch_op:
        batch_op.create_index('ix_attempt_override_learner_id_exam_key', ['learner_id', 'exam_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attempt_override', schema=None) as batch_op:
        batch_op.drop_index('ix_attempt_override_learner_id_exam_key')

    op.drop_table('attempt_override')
    with op.batch_alter_table('attempt_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attempt_event_attempt_id'))

    op.drop_table('attempt_event')
    op.drop_table('answer_step')
    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attempt_next_check_ms'))

    op.drop_table('attempt')
    op.drop_table('enrollment')
