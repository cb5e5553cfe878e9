"""Sanctions-list import runs (uploads, official downloads, scheduled refresh) and who imported a snapshot

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 22:20:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sanctions_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('stage', sa.String(length=200), nullable=True),
    sa.Column('filename', sa.String(length=500), nullable=True),
    sa.Column('staged_path', sa.String(length=1000), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_by', sa.String(length=320), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.Column('snapshot_id', sa.Integer(), nullable=True),
    sa.Column('previous_snapshot_id', sa.Integer(), nullable=True),
    sa.Column('entries_added', sa.Integer(), nullable=True),
    sa.Column('entries_removed', sa.Integer(), nullable=True),
    sa.Column('rescreen_state', sa.String(length=20), nullable=True),
    sa.Column('rescreen_total', sa.Integer(), nullable=True),
    sa.Column('rescreen_done', sa.Integer(), nullable=True),
    sa.Column('new_hit_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['previous_snapshot_id'], ['sanctions_lists.id'], name=op.f('fk_sanctions_imports_previous_snapshot_id_sanctions_lists')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_sanctions_imports_requested_by_id_users')),
    sa.ForeignKeyConstraint(['snapshot_id'], ['sanctions_lists.id'], name=op.f('fk_sanctions_imports_snapshot_id_sanctions_lists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sanctions_imports'))
    )
    with op.batch_alter_table('sanctions_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sanctions_imports_requested_at'), ['requested_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sanctions_imports_source'), ['source'], unique=False)
        batch_op.create_index(batch_op.f('ix_sanctions_imports_state'), ['state'], unique=False)

    with op.batch_alter_table('sanctions_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('imported_by', sa.String(length=320), nullable=True))


def downgrade():
    with op.batch_alter_table('sanctions_lists', schema=None) as batch_op:
        batch_op.drop_column('imported_by')

    with op.batch_alter_table('sanctions_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sanctions_imports_state'))
        batch_op.drop_index(batch_op.f('ix_sanctions_imports_source'))
        batch_op.drop_index(batch_op.f('ix_sanctions_imports_requested_at'))

    op.drop_table('sanctions_imports')
