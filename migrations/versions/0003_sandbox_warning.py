"""sandbox warning

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:51:22.272682

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sandbox_warning', sa.Text(), nullable=True))



def downgrade():
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.drop_column('sandbox_warning')

