"""grading run timings

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 16:00:37.396767

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('execution_seconds', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('scoring_seconds', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('warm_kernel', sa.Boolean(), nullable=True))



def downgrade():
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.drop_column('warm_kernel')
        batch_op.drop_column('scoring_seconds')
        batch_op.drop_column('execution_seconds')

