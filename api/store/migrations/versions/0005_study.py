"""Study: plans, courses, chapters, enrollment in plans, chapter progress, study events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 12:23:22.402446
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('course',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('bank', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course')),
    sa.UniqueConstraint('key', name=op.f('uq_course_key'))
    )
    op.create_table('plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('required_hours', sa.Float(), nullable=False),
    sa.Column('elective_hours', sa.Float(), nullable=False),
    sa.Column('exam_key', sa.String(length=120), nullable=True),
    sa.Column('restudy', sa.String(length=16), nullable=False),
    sa.Column('required_first', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan')),
    sa.UniqueConstraint('key', name=op.f('uq_plan_key'))
    )
    op.create_table('chapter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.BigInteger(), nullable=False),
    sa.Column('credit_hours', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_chapter_course_id_course')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chapter')),
    sa.UniqueConstraint('key', name=op.f('uq_chapter_key'))
    )
    with op.batch_alter_table('chapter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chapter_course_id'), ['course_id'], unique=False)

    op.create_table('plan_course',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_plan_course_course_id_course')),
    sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], name=op.f('fk_plan_course_plan_id_plan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_course')),
    sa.UniqueConstraint('plan_id', 'course_id', name=op.f('uq_plan_course_plan_id_course_id'))
    )
    op.create_table('plan_enrollment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_plan_enrollment_learner_id_user')),
    sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], name=op.f('fk_plan_enrollment_plan_id_plan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_enrollment')),
    sa.UniqueConstraint('learner_id', 'plan_id', name=op.f('uq_plan_enrollment_learner_id_plan_id'))
    )
    op.create_table('chapter_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('chapter_id', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('credited_ms', sa.BigInteger(), nullable=False),
    sa.Column('position_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.Column('completed_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['chapter_id'], ['chapter.id'], name=op.f('fk_chapter_progress_chapter_id_chapter')),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_chapter_progress_learner_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chapter_progress')),
    sa.UniqueConstraint('learner_id', 'chapter_id', 'cycle', name=op.f('uq_chapter_progress_learner_id_chapter_id_cycle'))
    )
    op.create_table('study_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('chapter_id', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['chapter_id'], ['chapter.id'], name=op.f('fk_study_event_chapter_id_chapter')),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_study_event_learner_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_event'))
    )
    with op.batch_alter_table('study_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_event_learner_id'), ['learner_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('study_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_event_learner_id'))

    op.drop_table('study_event')
    op.drop_table('chapter_progress')
    op.drop_table('plan_enrollment')
    op.drop_table('plan_course')
    with op.batch_alter_table('chapter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chapter_course_id'))

    op.drop_table('chapter')
    op.drop_table('plan')
    op.drop_table('course')
