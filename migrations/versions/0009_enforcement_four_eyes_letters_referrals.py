"""Enforcement, second part: decision proposals (four eyes)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:40:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    op.create_table('investigation_proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('investigation_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('extend_to', JSON, nullable=False),
    sa.Column('why_four_eyes', sa.Text(), nullable=False),
    sa.Column('proposed_by_id', sa.Integer(), nullable=False),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answer_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['investigation_id'], ['investigations.id'], name=op.f('fk_investigation_proposals_investigation_id_investigations')),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['users.id'], name=op.f('fk_investigation_proposals_proposed_by_id_users')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_investigation_proposals_answered_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_investigation_proposals'))
    )
    with op.batch_alter_table('investigation_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_investigation_proposals_investigation_id'), ['investigation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('investigation_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_investigation_proposals_investigation_id'))
    op.drop_table('investigation_proposals')
