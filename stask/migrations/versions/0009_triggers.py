"""s_triggers, s_trigger_calls: inbound hooks that start an action or a preset, and their last calls

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('s_triggers',
    sa.Column('id', ID, nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('identifier', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('preset_id', sa.BigInteger(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_prefix', sa.String(length=8), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=True),
    sa.Column('signed', sa.Boolean(), nullable=False),
    sa.Column('rate_limit', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=191), nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=False),
    sa.Column('last_called_at', TIMESTAMP, nullable=True),
    sa.Column('calls', sa.Integer(), nullable=False, server_default='0'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', name='uq_s_triggers_name'),
    sa.UniqueConstraint('token_hash', name='uq_s_triggers_token_hash')
    )
    op.create_index('ix_s_triggers_preset_id', 's_triggers', ['preset_id'], unique=False)
    op.create_table('s_trigger_calls',
    sa.Column('id', ID, nullable=False),
    sa.Column('trigger_id', sa.BigInteger(), nullable=False),
    sa.Column('called_at', TIMESTAMP, nullable=False),
    sa.Column('client', sa.String(length=100), nullable=True),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['trigger_id'], ['s_triggers.id'], name='fk_s_trigger_calls_trigger_id', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_s_trigger_calls_trigger_id', 's_trigger_calls', ['trigger_id', 'id'], unique=False)


def downgrade():
    op.drop_table('s_trigger_calls')  # with its index (MariaDB keeps an index its foreign key needs)
    op.drop_index('ix_s_triggers_preset_id', table_name='s_triggers')
    op.drop_table('s_triggers')
