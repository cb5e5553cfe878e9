"""Enforcement, second part: decision proposals (four eyes), notices (PDF letters),
referrals and the referral code named on an application

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

    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('facts', JSON, nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rendered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('storage_key', sa.String(length=32), nullable=True),
    sa.Column('key_id', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_notices_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_notices_storage_key'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_institution_id'), ['institution_id'], unique=False)

    op.create_table('referrals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('referrer_institution_id', sa.Integer(), nullable=False),
    sa.Column('referred_institution_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('signals', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_referrals_application_id_applications')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_referrals_decided_by_id_users')),
    sa.ForeignKeyConstraint(['referred_institution_id'], ['institutions.id'], name=op.f('fk_referrals_referred_institution_id_institutions')),
    sa.ForeignKeyConstraint(['referrer_institution_id'], ['institutions.id'], name=op.f('fk_referrals_referrer_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals')),
    sa.UniqueConstraint('application_id', name=op.f('uq_referrals_application_id'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referrals_referred_institution_id'), ['referred_institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_referrer_institution_id'), ['referrer_institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_status'), ['status'], unique=False)

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('referred_by_institution_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_applications_referred_by_institution_id_institutions'), 'institutions', ['referred_by_institution_id'], ['id'])


def downgrade():
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_applications_referred_by_institution_id_institutions'), type_='foreignkey')
        batch_op.drop_column('referred_by_institution_id')

    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referrals_status'))
        batch_op.drop_index(batch_op.f('ix_referrals_referrer_institution_id'))
        batch_op.drop_index(batch_op.f('ix_referrals_referred_institution_id'))
    op.drop_table('referrals')

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_institution_id'))
    op.drop_table('notices')
    with op.batch_alter_table('investigation_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_investigation_proposals_investigation_id'))
    op.drop_table('investigation_proposals')
