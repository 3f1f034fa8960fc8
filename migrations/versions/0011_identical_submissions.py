"""identical submissions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 17:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Columns of grading_runs that refer to another row: (column, type, referred table, its column,
# what a deletion of the referred row does).
REFERENCES = [
    ('package_sha256', sa.String(length=64), 'blobs', 'sha256', None),
    ('reused_from_id', sa.Integer(), 'grading_runs', 'id', 'SET NULL'),
]


def upgrade():
    # Uploads and runs older than this have no fingerprint, package or reusability recorded: they
    # are never reused, only graded as before.
    op.add_column('submissions', sa.Column('notebook_fingerprint', sa.String(length=64), nullable=True))
    op.create_index('ix_submissions_assignment_fingerprint', 'submissions',
                    ['assignment_id', 'notebook_fingerprint'], unique=False)
    for column, type_, referred, referred_column, ondelete in REFERENCES:
        add_reference(column, type_, referred, referred_column, ondelete)
    op.add_column('grading_runs', sa.Column('reusable', sa.Boolean(), nullable=True))
    op.add_column('grading_runs', sa.Column('models_from_cache', sa.JSON(), server_default='[]',
                                            nullable=False))


def add_reference(column, type_, referred, referred_column, ondelete):
    name = f'fk_grading_runs_{column}_{referred}'
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        op.add_column('grading_runs', sa.Column(column, type_, nullable=True))
        op.create_foreign_key(name, 'grading_runs', referred, [column], [referred_column],
                              ondelete=ondelete)
        return
    # SQLite cannot add a constraint to a table, and rebuilding grading_runs (batch mode) would drop
    # the old table, which with foreign keys on deletes every question result: the reference goes
    # inline instead, as ADD COLUMN allows.
    on_delete = f' ON DELETE {ondelete}' if ondelete else ''
    op.execute(f'ALTER TABLE grading_runs ADD COLUMN {column} {type_.compile(dialect=bind.dialect)} '
               f'CONSTRAINT {name} REFERENCES {referred} ({referred_column}){on_delete}')


def downgrade():
    op.drop_column('grading_runs', 'models_from_cache')
    op.drop_column('grading_runs', 'reusable')
    for column, _type, referred, _referred_column, _ondelete in reversed(REFERENCES):
        if op.get_bind().dialect.name != 'sqlite':  # SQLite drops the column with its reference
            op.drop_constraint(f'fk_grading_runs_{column}_{referred}', 'grading_runs',
                               type_='foreignkey')
        op.drop_column('grading_runs', column)
    op.drop_index('ix_submissions_assignment_fingerprint', table_name='submissions')
    op.drop_column('submissions', 'notebook_fingerprint')
