"""assignment policy and package validations

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 15:46:12.298885

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('package_validations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('package_sha256', sa.String(length=64), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('queued', 'running', 'graded', 'failed', name='validation_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.JSON(), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_package_validations_assignment_id_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['package_sha256'], ['blobs.sha256'], name=op.f('fk_package_validations_package_sha256_blobs')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_package_validations_requested_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_package_validations'))
    )
    with op.batch_alter_table('package_validations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_package_validations_assignment_id'), ['assignment_id'], unique=False)

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('release_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('late_penalty_percent_per_day', sa.Double(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('late_penalty_cap_percent', sa.Double(), server_default='100', nullable=False))
        batch_op.add_column(sa.Column('max_attempts', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('score_policy', sa.Enum('best', 'last', name='score_policy', native_enum=False, create_constraint=True, length=16), server_default='best', nullable=False))



def downgrade():
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        # SQLite's table copy keeps CHECK constraints, so the enum's check must go before its column.
        batch_op.drop_constraint('score_policy', type_='check')  # named ck_assignments_score_policy
        batch_op.drop_column('score_policy')
        batch_op.drop_column('max_attempts')
        batch_op.drop_column('late_penalty_cap_percent')
        batch_op.drop_column('late_penalty_percent_per_day')
        batch_op.drop_column('due_at')
        batch_op.drop_column('release_at')

    with op.batch_alter_table('package_validations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_package_validations_assignment_id'))

    op.drop_table('package_validations')
