"""s_stats_hourly: hourly task aggregates (kept when cleanup deletes tasks)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')


def upgrade():
    op.create_table('s_stats_hourly',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hour', TIMESTAMP, nullable=False),
    sa.Column('identifier', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('finished', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('cancelled', sa.Integer(), nullable=False),
    sa.Column('retried', sa.Integer(), nullable=False),
    sa.Column('memory_count', sa.Integer(), nullable=False),
    sa.Column('memory_sum', sa.BigInteger(), nullable=False),
    sa.Column('memory_max', sa.Integer(), nullable=True),
    sa.Column('run_hist', sa.JSON(), nullable=True),
    sa.Column('wait_hist', sa.JSON(), nullable=True),
    sa.Column('errors', sa.JSON(), nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hour', 'identifier', 'action', name='uq_s_stats_hourly_key')
    )


def downgrade():
    op.drop_table('s_stats_hourly')
