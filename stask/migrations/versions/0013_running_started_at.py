"""The stuck-task rule reads the running tasks oldest first from an index

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

The ``stuck_tasks`` alert (and the ``stuck`` event) reads the running tasks oldest first, at
most ``STUCK_SCAN_LIMIT`` of them. Without an index in ``started_at`` order it read every
running row and sorted them (10,000 running in ten million rows: 10,000 rows read for 1,000).
On PostgreSQL and SQLite the index holds the running rows only (a partial index: no entry is
written for a queued or finished row); MariaDB has no partial index and indexes every row.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

#: Status.RUNNING (keep in agreement with stask.models: the predicate is compared as text).
RUNNING = sa.text('status = 50')


def upgrade():
    op.create_index(
        'ix_s_tasks_running_started_at', 's_tasks', ['status', 'started_at'],
        postgresql_where=RUNNING, sqlite_where=RUNNING,
    )


def downgrade():
    op.drop_index('ix_s_tasks_running_started_at', table_name='s_tasks')
