"""Text-search indexes for the staff searches, and the jurisdiction + risk filter's index

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 01:40:00.000000

PostgreSQL: the pg_trgm extension and a GIN trigram index per searched column (ILIKE '%x%' uses them).
SQLite: an external-content FTS5 table with the trigram tokenizer per searched table, kept in step by
insert/update/delete triggers and filled from the existing rows. The names here are the ones
onboarding/textsearch.py queries (written out, as migrations never import the app).

A later migration that rebuilds one of these tables on SQLite (batch_alter_table copies it into a new
table) drops its triggers: it must create them again (see _create_sqlite_triggers).
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

SEARCHED = {
    'applications': ('legal_name', 'reference', 'registration_number'),
    'institutions': ('legal_name',),
    'audit_events': ('actor_label', 'action', 'subject_type', 'subject_id'),
}


def _create_sqlite_triggers(table, columns):
    fts = f'{table}_search'
    names = ', '.join(columns)
    new = ', '.join(f'new.{c}' for c in columns)
    old = ', '.join(f'old.{c}' for c in columns)
    op.execute(f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
               f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END")
    op.execute(f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); END")
    op.execute(f"CREATE TRIGGER {fts}_update AFTER UPDATE OF id, {names} ON {table} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); "
               f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END")


def _awaiting_signoff_index(columns):
    """The compliance queue's partial index, keyed on `columns`."""
    op.create_index('ix_applications_awaiting_signoff', 'applications', columns,
                    sqlite_where=sa.text('needs_compliance_signoff = 1 AND compliance_signoff_at IS NULL'),
                    postgresql_where=sa.text('needs_compliance_signoff AND compliance_signoff_at IS NULL'))


def upgrade():
    # The navigation counts the compliance queue on every staff page. Keyed on state alone, SQLite (no
    # statistics) preferred (state, risk_score) and visited every case in review; with the flags in the
    # key this index matches three terms and answers the count alone.
    op.drop_index('ix_applications_awaiting_signoff', table_name='applications')
    _awaiting_signoff_index(['state', 'needs_compliance_signoff', 'compliance_signoff_at'])
    # "Highest risk first" breaks ties by id; with id in the key PostgreSQL reads a page off the index
    # instead of sorting every case of the queue (risk scores take few distinct values).
    op.drop_index('ix_applications_state_risk_score', table_name='applications')
    op.create_index('ix_applications_state_risk_score', 'applications', ['state', 'risk_score', 'id'])
    # The list of every application filtered by jurisdiction and risk, newest first: the count and the
    # page are read from this index alone instead of every submitted application.
    op.create_index('ix_applications_jurisdiction_risk', 'applications',
                    ['jurisdiction', 'risk_band', 'submitted_at', 'id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        for table, columns in SEARCHED.items():
            for column in columns:
                op.create_index(f'ix_{table}_{column}_trgm', table, [column], postgresql_using='gin',
                                postgresql_ops={column: 'gin_trgm_ops'})
        return
    for table, columns in SEARCHED.items():
        fts = f'{table}_search'
        op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({', '.join(columns)}, content='{table}', "
                   f"content_rowid='id', tokenize='trigram')")
        _create_sqlite_triggers(table, columns)
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table, columns in SEARCHED.items():
            for column in columns:
                op.drop_index(f'ix_{table}_{column}_trgm', table_name=table)
        # The extension stays: other databases objects may use it, and it holds no data.
    else:
        for table in SEARCHED:
            fts = f'{table}_search'
            for suffix in ('insert', 'delete', 'update'):
                op.execute(f'DROP TRIGGER IF EXISTS {fts}_{suffix}')
            op.execute(f'DROP TABLE IF EXISTS {fts}')
    op.drop_index('ix_applications_jurisdiction_risk', table_name='applications')
    op.drop_index('ix_applications_awaiting_signoff', table_name='applications')
    _awaiting_signoff_index(['state'])
    op.drop_index('ix_applications_state_risk_score', table_name='applications')
    op.create_index('ix_applications_state_risk_score', 'applications', ['state', 'risk_score'])
