"""sessions and token expiry

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 08:15:00.000000

"""
import secrets
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# Tokens made before tokens expired get the default lifetime of a new one, counted from the upgrade.
EXISTING_TOKEN_DAYS = 90


def upgrade():
    # Never a batch that recreates `users`: on SQLite dropping the old table would cascade-delete
    # everything that refers to it. An empty token (the default) signs no one in.
    op.add_column('users', sa.Column('session_token', sa.String(length=64), server_default='',
                                     nullable=False))
    # A random token per person: a forged cookie must not guess it. Sessions signed before the upgrade
    # carry no token and so end.
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('session_token', sa.String))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(users.update().where(users.c.id == user_id)
                           .values(session_token=secrets.token_urlsafe(32)))

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    tokens = sa.table('api_tokens', sa.column('expires_at', sa.DateTime(timezone=True)))
    expires = datetime.now(timezone.utc) + timedelta(days=EXISTING_TOKEN_DAYS)
    connection.execute(tokens.update().values(expires_at=expires))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade():
    # Without these columns a revoked or expired token would work again: delete those first.
    tokens = sa.table('api_tokens', sa.column('expires_at', sa.DateTime(timezone=True)),
                      sa.column('revoked_at', sa.DateTime(timezone=True)))
    op.get_bind().execute(tokens.delete().where(sa.or_(tokens.c.revoked_at.is_not(None),
                                                       tokens.c.expires_at <= datetime.now(timezone.utc))))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('expires_at')

    # Not a batch either (see upgrade): SQLite drops the column in place.
    op.drop_column('users', 'session_token')
