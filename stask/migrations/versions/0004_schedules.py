"""s_schedules: cron and interval schedules; s_tasks.schedule_id and scheduled_for

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('s_schedules',
    sa.Column('id', ID, nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('identifier', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('cron', sa.String(length=120), nullable=True),
    sa.Column('interval', sa.Integer(), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('start_date', TIMESTAMP, nullable=True),
    sa.Column('end_date', TIMESTAMP, nullable=True),
    sa.Column('misfire', sa.String(length=16), nullable=False),
    sa.Column('overlap', sa.String(length=16), nullable=False),
    sa.Column('jitter', sa.Integer(), nullable=False),
    sa.Column('anchor', TIMESTAMP, nullable=False),
    sa.Column('next_run_at', TIMESTAMP, nullable=True),
    sa.Column('last_run_at', TIMESTAMP, nullable=True),
    sa.Column('last_task_id', sa.BigInteger(), nullable=True),
    sa.Column('last_skipped_at', TIMESTAMP, nullable=True),
    sa.Column('last_skip_reason', sa.String(length=255), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('created_by', sa.String(length=191), nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_s_schedules_due', 's_schedules', ['enabled', 'next_run_at'], unique=False)
    op.create_index('ix_s_schedules_identifier', 's_schedules', ['identifier'], unique=False)
    with op.batch_alter_table('s_tasks') as batch_op:
        batch_op.add_column(sa.Column('schedule_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('scheduled_for', TIMESTAMP, nullable=True))
        batch_op.create_index('ix_s_tasks_schedule_id', ['schedule_id'], unique=False)


def downgrade():
    with op.batch_alter_table('s_tasks') as batch_op:
        batch_op.drop_index('ix_s_tasks_schedule_id')
        batch_op.drop_column('scheduled_for')
        batch_op.drop_column('schedule_id')
    op.drop_index('ix_s_schedules_identifier', table_name='s_schedules')
    op.drop_index('ix_s_schedules_due', table_name='s_schedules')
    op.drop_table('s_schedules')
