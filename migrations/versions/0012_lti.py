"""LTI 1.3: platforms, tool keys, identities, contexts, links, login states, grade sends

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 22:25:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'lti_platforms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('issuer', sa.String(length=255), nullable=False),
        sa.Column('client_id', sa.String(length=255), nullable=False),
        sa.Column('auth_login_url', sa.String(length=500), nullable=False),
        sa.Column('auth_token_url', sa.String(length=500), nullable=False),
        sa.Column('key_set_url', sa.String(length=500), nullable=False),
        sa.Column('auth_audience', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('issuer', 'client_id'),
    )
    op.create_table(
        'lti_deployments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('deployment_id', sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('platform_id', 'deployment_id'),
    )
    op.create_table(
        'lti_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kid', sa.String(length=100), nullable=False),
        sa.Column('private_key_pem', sa.Text(), nullable=False),
        sa.Column('public_jwk', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kid'),
    )
    op.create_table(
        'lti_identities',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('platform_id', 'subject'),
    )
    op.create_index('ix_lti_identities_user_id', 'lti_identities', ['user_id'], unique=False)
    op.create_table(
        'lti_contexts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('context_id', sa.String(length=255), nullable=False),
        sa.Column('deployment_id', sa.String(length=255), nullable=False),
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=255), nullable=False),
        sa.Column('memberships_url', sa.String(length=500), nullable=True),
        sa.Column('lineitems_url', sa.String(length=500), nullable=True),
        sa.Column('ags_scopes', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['courses.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('platform_id', 'context_id'),
    )
    op.create_index('ix_lti_contexts_course_id', 'lti_contexts', ['course_id'], unique=False)
    op.create_table(
        'lti_resource_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('context_id', sa.Integer(), nullable=False),
        sa.Column('resource_link_id', sa.String(length=255), nullable=False),
        sa.Column('assignment_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=255), nullable=False),
        sa.Column('lineitem_url', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['context_id'], ['lti_contexts.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('context_id', 'resource_link_id'),
    )
    op.create_index('ix_lti_resource_links_assignment_id', 'lti_resource_links',
                    ['assignment_id'], unique=False)
    op.create_table(
        'lti_login_states',
        sa.Column('state', sa.String(length=64), nullable=False),
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('state'),
        sa.UniqueConstraint('nonce'),
    )
    op.create_table(
        'lti_grade_sends',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('resource_link_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('score_given', sa.Float(), nullable=True),
        sa.Column('score_maximum', sa.Float(), nullable=False),
        sa.Column('grading_progress', sa.String(length=16), nullable=False),
        sa.Column('state', sa.Enum('pending', 'sent', 'failed', name='passback_state',
                                   native_enum=False, create_constraint=True, length=16),
                  nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['resource_link_id'], ['lti_resource_links.id'],
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('resource_link_id', 'user_id'),
    )
    op.create_index('ix_lti_grade_sends_user_id', 'lti_grade_sends', ['user_id'], unique=False)


def downgrade():
    op.drop_index('ix_lti_grade_sends_user_id', table_name='lti_grade_sends')
    op.drop_table('lti_grade_sends')
    op.drop_table('lti_login_states')
    op.drop_index('ix_lti_resource_links_assignment_id', table_name='lti_resource_links')
    op.drop_table('lti_resource_links')
    op.drop_index('ix_lti_contexts_course_id', table_name='lti_contexts')
    op.drop_table('lti_contexts')
    op.drop_index('ix_lti_identities_user_id', table_name='lti_identities')
    op.drop_table('lti_identities')
    op.drop_table('lti_keys')
    op.drop_table('lti_deployments')
    op.drop_table('lti_platforms')
