"""reliability: heartbeats and sweeper

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 16:15:49.737215

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('worker_heartbeats',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_heartbeats'))
    )
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('worker', sa.String(length=200), nullable=True))



def downgrade():
    with op.batch_alter_table('grading_runs', schema=None) as batch_op:
        batch_op.drop_column('worker')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('enqueued_at')

    op.drop_table('worker_heartbeats')
