"""s_task_counts: tasks per (worker, status), kept exact by triggers on s_tasks; s_stats_daily, s_stats_slices; run_p95

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

The dashboard, ``/metrics`` and the summaries read these few rows instead of counting
s_tasks (seconds at ten million rows). The triggers (``stask.monitoring.counters``) count
every insert, status change and delete, whoever runs it; the table is filled from the rows
here, once, inside the migration's transaction.

s_stats_daily holds the hourly figures per day (a 30-day summary reads 30 rows, not 720 per
worker); s_stats_hourly.run_p95 lets the hourly series skip the histograms. Existing hourly rows
keep their exact histograms and no ``*`` rows: ``flask stask rollups rebuild`` rolls them again.
"""
from sqlalchemy.dialects import mysql
from alembic import op
import sqlalchemy as sa

from stask.monitoring.counters import create_triggers_sql, drop_triggers_sql

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')


def _figures_table(name):
    op.create_table(name,
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
    sa.Column('run_p95', sa.Integer(), nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hour', 'identifier', 'action', name=f'uq_{name}_key')
    )


def upgrade():
    op.add_column('s_stats_hourly', sa.Column('run_p95', sa.Integer(), nullable=True))
    for table in ('s_stats_daily', 's_stats_slices'):
        _figures_table(table)
    op.create_table('s_task_counts',
    sa.Column('identifier', sa.String(length=64), nullable=False),
    sa.Column('status', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('identifier', 'status')
    )
    dialect = op.get_bind().dialect.name
    for statement in create_triggers_sql(dialect):
        op.execute(statement)
    op.execute(
        'INSERT INTO s_task_counts (identifier, status, n) '
        'SELECT identifier, status, count(*) FROM s_tasks GROUP BY identifier, status'
    )


def downgrade():
    for statement in drop_triggers_sql(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table('s_task_counts')
    op.drop_table('s_stats_daily')
    op.drop_table('s_stats_slices')
    op.drop_column('s_stats_hourly', 'run_p95')
