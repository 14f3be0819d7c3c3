"""s_task_counts: tasks per (worker, status), kept exact by triggers on s_tasks

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

The dashboard, ``/metrics`` and the summaries read these few rows instead of counting
s_tasks (seconds at ten million rows). The triggers (``stask.monitoring.counters``) count
every insert, status change and delete, whoever runs it; the table is filled from the rows
here, once, inside the migration's transaction.
"""
from alembic import op
import sqlalchemy as sa

from stask.monitoring.counters import create_triggers_sql, drop_triggers_sql

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
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
