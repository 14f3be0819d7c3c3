"""Notifications: s_notifications (rules), s_deliveries (one per rule and event); s_tasks.notify

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('s_notifications',
    sa.Column('id', ID, nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('identifier', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=True),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('secret', sa.String(length=255), nullable=True),
    sa.Column('headers', sa.JSON(), nullable=True),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('subject_template', sa.Text(), nullable=True),
    sa.Column('body_template', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sa.String(length=191), nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_index('ix_s_notifications_task_id', 's_notifications', ['task_id'], unique=False)
    op.create_table('s_deliveries',
    sa.Column('id', ID, nullable=False),
    sa.Column('notification_id', sa.BigInteger(), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=True),
    sa.Column('group_id', sa.BigInteger(), nullable=True),
    sa.Column('schedule_id', sa.BigInteger(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('response_code', sa.Integer(), nullable=True),
    sa.Column('response_excerpt', sa.String(length=500), nullable=True),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('job_task_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('last_attempt_at', TIMESTAMP, nullable=True),
    sa.Column('delivered_at', TIMESTAMP, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('notification_id', 'event', 'subject', name='uq_s_deliveries_event')
    )
    op.create_index('ix_s_deliveries_created_at', 's_deliveries', ['created_at'], unique=False)
    op.create_index('ix_s_deliveries_task_id', 's_deliveries', ['task_id'], unique=False)
    with op.batch_alter_table('s_tasks') as batch_op:
        batch_op.add_column(sa.Column('notify', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('s_tasks') as batch_op:
        batch_op.drop_column('notify')
    op.drop_index('ix_s_deliveries_task_id', table_name='s_deliveries')
    op.drop_index('ix_s_deliveries_created_at', table_name='s_deliveries')
    op.drop_table('s_deliveries')
    op.drop_index('ix_s_notifications_task_id', table_name='s_notifications')
    op.drop_table('s_notifications')
