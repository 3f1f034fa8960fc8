"""tamper flags

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:40:12.418305

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # Runs graded before tampering was recorded get an empty list: nothing was noticed.
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tamper', sa.JSON(), server_default='[]', nullable=False))



def downgrade():
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.drop_column('tamper')

