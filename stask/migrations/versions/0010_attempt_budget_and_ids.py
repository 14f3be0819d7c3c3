"""s_tasks.attempt_budget (a retry by hand grants the task's own budget again); ids never reused on SQLite

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

SQLite gives a new row the highest id in use plus one unless the table was created with
AUTOINCREMENT, so deleting the newest task handed its id to the next one. SQLite cannot add
AUTOINCREMENT to a table, so each table whose ids are shown or referred to is rebuilt (Alembic's
batch mode: copy, drop, rename; indexes and constraints re-created). PostgreSQL's sequences and
MariaDB's InnoDB counter never reuse an id: there only the column is added.

``attempt_budget`` is filled with ``max_attempts`` for existing rows: exact for every task not yet
retried by hand, its current allowance otherwise.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

#: The tables of ``stask.models.NEVER_REUSED_IDS`` (keep the two lists in agreement).
NEVER_REUSED = (
    's_tasks', 's_audit', 's_schedules', 's_presets', 's_groups', 's_notifications', 's_deliveries', 's_triggers',
)


def _sqlite():
    return op.get_bind().dialect.name == 'sqlite'


def upgrade():
    if _sqlite():
        for table in NEVER_REUSED:
            with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': True}) as batch:
                if table == 's_tasks':
                    batch.add_column(sa.Column('attempt_budget', sa.Integer(), nullable=True))
    else:
        op.add_column('s_tasks', sa.Column('attempt_budget', sa.Integer(), nullable=True))
    op.execute('UPDATE s_tasks SET attempt_budget = max_attempts')


def downgrade():
    if _sqlite():
        for table in NEVER_REUSED:
            with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': False}) as batch:
                if table == 's_tasks':
                    batch.drop_column('attempt_budget')
    else:
        op.drop_column('s_tasks', 'attempt_budget')
