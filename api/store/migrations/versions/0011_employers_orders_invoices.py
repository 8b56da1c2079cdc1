"""Employers and who worked where (docs/decisions/0025); plans' prices, orders, payments,
refunds and invoices (docs/decisions/0026). Every employer name accounts carry becomes an
employer, and each such account's current employment starts when the account was made.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 15:02:33
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('employer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employer')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_employer_credit_code')),
    sa.UniqueConstraint('name', name=op.f('uq_employer_name'))
    )
    op.create_table('employment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('employer_id', sa.Integer(), nullable=False),
    sa.Column('start_ms', sa.BigInteger(), nullable=False),
    sa.Column('end_ms', sa.BigInteger(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_employment_actor_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['employer_id'], ['employer.id'], name=op.f('fk_employment_employer_id_employer')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_employment_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employment'))
    )
    with op.batch_alter_table('employment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employment_employer_id'), ['employer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_employment_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_employment_current', ['user_id'], unique=True, sqlite_where=sa.text('end_ms IS NULL'), postgresql_where=sa.text('end_ms IS NULL'))

    op.create_table('purchase_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=24), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=True),
    sa.Column('employer', sa.String(length=200), nullable=True),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('unit_fen', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('paid_ms', sa.BigInteger(), nullable=True),
    sa.Column('closed_ms', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("kind IN ('individual', 'group')", name=op.f('ck_purchase_order_kind')),
    sa.CheckConstraint("state IN ('pending', 'paid', 'cancelled', 'refunded')", name=op.f('ck_purchase_order_state')),
    sa.ForeignKeyConstraint(['buyer_id'], ['user.id'], name=op.f('fk_purchase_order_buyer_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], name=op.f('fk_purchase_order_plan_id_plan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_order')),
    sa.UniqueConstraint('number', name=op.f('uq_purchase_order_number'))
    )
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchase_order_employer'), ['employer'], unique=False)

    op.create_table('invoice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('tax_id', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=True),
    sa.Column('requested_ms', sa.BigInteger(), nullable=False),
    sa.Column('issued_ms', sa.BigInteger(), nullable=True),
    sa.Column('corrections', sa.Integer(), nullable=False),
    sa.CheckConstraint("state IN ('requested', 'issued')", name=op.f('ck_invoice_state')),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], name=op.f('fk_invoice_order_id_purchase_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice')),
    sa.UniqueConstraint('order_id', name=op.f('uq_invoice_order_id'))
    )
    op.create_table('order_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_order_event_actor_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], name=op.f('fk_order_event_order_id_purchase_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_event'))
    )
    with op.batch_alter_table('order_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_event_order_id'), ['order_id'], unique=False)

    op.create_table('order_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_order_line_learner_id_user')),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], name=op.f('fk_order_line_order_id_purchase_order')),
    sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], name=op.f('fk_order_line_plan_id_plan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_line'))
    )
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_line_learner_id'), ['learner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_line_order_id'), ['order_id'], unique=False)
        batch_op.create_index('uq_order_line_active', ['learner_id', 'plan_id'], unique=True, sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))

    op.create_table('payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_payment_actor_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], name=op.f('fk_payment_order_id_purchase_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment')),
    sa.UniqueConstraint('provider', 'reference', 'kind', name=op.f('uq_payment_provider_reference_kind'))
    )
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_order_id'), ['order_id'], unique=False)

    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_fen', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('price_basis', sa.String(length=8), server_default='person', nullable=False))
    _employers_of_accounts()


def _employers_of_accounts() -> None:
    """An employer for every name in ``user.employer``; an open employment for each
    account carrying one, from the account's creation."""
    user = sa.table('user', sa.column('id', sa.Integer()), sa.column('employer', sa.String()),
                    sa.column('created_at', sa.DateTime(timezone=True)))
    employer = sa.table('employer', sa.column('id', sa.Integer()), sa.column('name', sa.String()),
                        sa.column('created_at', sa.DateTime(timezone=True)))
    employment = sa.table('employment', sa.column('user_id', sa.Integer()),
                          sa.column('employer_id', sa.Integer()),
                          sa.column('start_ms', sa.BigInteger()))
    bind = op.get_bind()
    rows = bind.execute(sa.select(user.c.id, user.c.employer, user.c.created_at)
                        .where(user.c.employer.is_not(None))).all()
    names = sorted({r.employer for r in rows})
    first: dict[str, object] = {}
    for r in rows:
        first.setdefault(r.employer, r.created_at)
    if names:
        op.bulk_insert(employer, [{'name': n, 'created_at': first[n]} for n in names])
    ids = dict(bind.execute(sa.select(employer.c.name, employer.c.id)).all())
    def ms(at: object) -> int:
        if isinstance(at, str):  # SQLite hands back text
            at = datetime.fromisoformat(at)
        if not isinstance(at, datetime):
            return 0
        return int((at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000)
    if rows:
        op.bulk_insert(employment, [{'user_id': r.id, 'employer_id': ids[r.employer],
                                     'start_ms': ms(r.created_at)} for r in rows])



def downgrade() -> None:
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_column('price_basis')
        batch_op.drop_column('price_fen')

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_order_id'))

    op.drop_table('payment')
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.drop_index('uq_order_line_active', sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))
        batch_op.drop_index(batch_op.f('ix_order_line_order_id'))
        batch_op.drop_index(batch_op.f('ix_order_line_learner_id'))

    op.drop_table('order_line')
    with op.batch_alter_table('order_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_event_order_id'))

    op.drop_table('order_event')
    op.drop_table('invoice')
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchase_order_employer'))

    op.drop_table('purchase_order')
    with op.batch_alter_table('employment', schema=None) as batch_op:
        batch_op.drop_index('uq_employment_current', sqlite_where=sa.text('end_ms IS NULL'), postgresql_where=sa.text('end_ms IS NULL'))
        batch_op.drop_index(batch_op.f('ix_employment_user_id'))
        batch_op.drop_index(batch_op.f('ix_employment_employer_id'))

    op.drop_table('employment')
    op.drop_table('employer')
