"""Requests to change an institution's granted IP addresses

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:16:11.561018

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('allowlist_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('addresses', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_allowlist_changes_decided_by_id_users')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_allowlist_changes_institution_id_institutions')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_allowlist_changes_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allowlist_changes'))
    )
    with op.batch_alter_table('allowlist_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_allowlist_changes_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_allowlist_changes_status'), ['status'], unique=False)



def downgrade():
    with op.batch_alter_table('allowlist_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_allowlist_changes_status'))
        batch_op.drop_index(batch_op.f('ix_allowlist_changes_institution_id'))

    op.drop_table('allowlist_changes')
