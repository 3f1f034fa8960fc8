"""assignment packages and scores

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:20:02.437936

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('package_sha256', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_assignments_package_sha256_blobs'), 'blobs', ['package_sha256'], ['sha256'])

    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('max_score', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('manual_pending', sa.Double(), nullable=True))

    with op.batch_alter_table('question_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manual_points', sa.Double(), nullable=False, server_default='0'))



def downgrade():
    with op.batch_alter_table('question_results', schema=None) as batch_op:
        batch_op.drop_column('manual_points')

    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.drop_column('manual_pending')
        batch_op.drop_column('max_score')
        batch_op.drop_column('score')

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_assignments_package_sha256_blobs'), type_='foreignkey')
        batch_op.drop_column('package_sha256')

