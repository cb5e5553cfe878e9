"""Institution access as its own part: the grant table (with history) and the status change time;
the grant moves off the application.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:40:00

Data: every approved application that carried a grant (scopes, rate tier, key limit, copied from its
qualification review; failing that, the latest review) becomes one grant row of its institution, made
by the approver named in the approval's audit event, at the time of the decision, with the application's
IP allow-list. Per institution the newest grant is current; older ones are marked superseded. The
downgrade copies each application's grant back onto it.
"""
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _tables():
    applications = sa.table(
        'applications', sa.column('id', sa.Integer), sa.column('institution_id', sa.Integer),
        sa.column('state', sa.String), sa.column('reference', sa.String), sa.column('ip_allowlist', JSON),
        sa.column('granted_scopes', JSON), sa.column('rate_tier', sa.String), sa.column('max_keys', sa.Integer),
        sa.column('decided_at', sa.DateTime(timezone=True)))
    reviews = sa.table(
        'qualification_reviews', sa.column('id', sa.Integer), sa.column('application_id', sa.Integer),
        sa.column('granted_scopes', JSON), sa.column('rate_tier', sa.String), sa.column('max_keys', sa.Integer))
    events = sa.table(
        'audit_events', sa.column('id', sa.Integer), sa.column('action', sa.String),
        sa.column('subject_type', sa.String), sa.column('subject_id', sa.String), sa.column('actor_id', sa.Integer))
    grants = sa.table(
        'access_grants', sa.column('id', sa.Integer), sa.column('institution_id', sa.Integer),
        sa.column('application_id', sa.Integer), sa.column('scopes', JSON), sa.column('rate_tier', sa.String),
        sa.column('max_keys', sa.Integer), sa.column('ip_allowlist', JSON), sa.column('granted_by_id', sa.Integer),
        sa.column('granted_at', sa.DateTime(timezone=True)), sa.column('reason', sa.Text),
        sa.column('superseded_at', sa.DateTime(timezone=True)))
    return applications, reviews, events, grants


def _as_list(value):
    # JSON columns come back decoded on PostgreSQL and on SQLite through SQLAlchemy's JSON type; a plain
    # string can only be left by a hand-made row.
    if isinstance(value, str):
        value = json.loads(value or '[]')
    return list(value or [])


def move_grants_to_institutions():
    bind = op.get_bind()
    applications, reviews, events, grants = _tables()
    approved = bind.execute(sa.select(applications).where(applications.c.state == 'approved')
                            .order_by(applications.c.institution_id, applications.c.decided_at,
                                      applications.c.id)).all()
    now = datetime.now(UTC)
    newest: dict[int, int] = {}
    for application in approved:
        scopes, tier, max_keys = _as_list(application.granted_scopes), application.rate_tier, application.max_keys
        if not scopes or not tier or not max_keys:
            review = bind.execute(sa.select(reviews).where(reviews.c.application_id == application.id)
                                  .order_by(reviews.c.id.desc()).limit(1)).first()
            if review is None:
                continue  # approved without any grant on record: nothing to move
            scopes, tier, max_keys = _as_list(review.granted_scopes), review.rate_tier, review.max_keys
        approver = bind.scalar(sa.select(events.c.actor_id).where(
            events.c.action == 'application.approve', events.c.subject_type == 'application',
            events.c.subject_id == str(application.id)).order_by(events.c.id.desc()).limit(1))
        grant_id = bind.execute(grants.insert().returning(grants.c.id).values(
            institution_id=application.institution_id, application_id=application.id, scopes=scopes,
            rate_tier=tier, max_keys=max_keys, ip_allowlist=_as_list(application.ip_allowlist),
            granted_by_id=approver, granted_at=application.decided_at or now,
            reason=f'Application {application.reference} approved (moved by migration 0005)',
            superseded_at=None)).scalar_one()
        previous = newest.get(application.institution_id)
        if previous is not None:
            bind.execute(grants.update().where(grants.c.id == previous).values(superseded_at=application.decided_at or now))
        newest[application.institution_id] = grant_id


def upgrade():
    op.create_table('access_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('scopes', JSON, nullable=False),
    sa.Column('rate_tier', sa.String(length=20), nullable=False),
    sa.Column('max_keys', sa.Integer(), nullable=False),
    sa.Column('ip_allowlist', JSON, nullable=False),
    sa.Column('granted_by_id', sa.Integer(), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_access_grants_application_id_applications')),
    sa.ForeignKeyConstraint(['granted_by_id'], ['users.id'], name=op.f('fk_access_grants_granted_by_id_users')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_access_grants_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_grants'))
    )
    with op.batch_alter_table('access_grants', schema=None) as batch_op:
        batch_op.create_index('ix_access_grants_current', ['institution_id', 'superseded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_grants_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_grants_institution_id'), ['institution_id'], unique=False)

    op.add_column('institutions', sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True))

    move_grants_to_institutions()

    # Plain ALTER TABLE (SQLite 3.35+ and PostgreSQL): a batch copy of `applications` would have to
    # rebuild its partial and covering indexes, and these three columns carry none.
    for column in ('granted_scopes', 'rate_tier', 'max_keys'):
        op.execute(f'ALTER TABLE applications DROP COLUMN {column}')


def downgrade():
    op.add_column('applications', sa.Column('granted_scopes', JSON, nullable=False, server_default='[]'))
    op.add_column('applications', sa.Column('rate_tier', sa.String(length=20), nullable=True))
    op.add_column('applications', sa.Column('max_keys', sa.Integer(), nullable=True))
    bind = op.get_bind()
    applications, _, _, grants = _tables()
    for grant in bind.execute(sa.select(grants).where(grants.c.application_id.is_not(None))).all():
        bind.execute(applications.update().where(applications.c.id == grant.application_id).values(
            granted_scopes=_as_list(grant.scopes), rate_tier=grant.rate_tier, max_keys=grant.max_keys))

    op.execute('ALTER TABLE institutions DROP COLUMN status_changed_at')

    with op.batch_alter_table('access_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_grants_institution_id'))
        batch_op.drop_index(batch_op.f('ix_access_grants_application_id'))
        batch_op.drop_index('ix_access_grants_current')

    op.drop_table('access_grants')
