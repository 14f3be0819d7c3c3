"""s_audit: the audit log of state changes made by people and tokens (own retention)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')


def upgrade():
    op.create_table('s_audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('actor_role', sa.String(length=16), nullable=True),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=100), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_s_audit_created_at', 's_audit', ['created_at'])
    op.create_index('ix_s_audit_action_created_at', 's_audit', ['action', 'created_at'])
    op.create_index('ix_s_audit_target_created_at', 's_audit', ['target', 'created_at'])
    op.create_index('ix_s_audit_actor_created_at', 's_audit', ['actor', 'created_at'])


def downgrade():
    op.drop_table('s_audit')
