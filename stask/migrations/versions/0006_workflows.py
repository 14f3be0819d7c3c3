"""Workflows: s_task_dependencies, s_groups; s_tasks.group_id, on_parent_failure, waiting_parents, follow_up

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('s_task_dependencies',
    sa.Column('parent_id', sa.BigInteger(), nullable=False),
    sa.Column('child_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('parent_id', 'child_id')
    )
    op.create_index('ix_s_task_dependencies_child', 's_task_dependencies', ['child_id', 'parent_id'], unique=False)
    op.create_table('s_groups',
    sa.Column('id', ID, nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('unfinished', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('cancelled', sa.Integer(), nullable=False),
    sa.Column('on_complete', sa.JSON(), nullable=True),
    sa.Column('on_failure', sa.JSON(), nullable=True),
    sa.Column('on_complete_task_id', sa.BigInteger(), nullable=True),
    sa.Column('on_failure_task_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sa.String(length=191), nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('ended_at', TIMESTAMP, nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_s_groups_created_at', 's_groups', ['created_at'], unique=False)
    with op.batch_alter_table('s_tasks') as batch_op:
        batch_op.add_column(sa.Column('group_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('on_parent_failure', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('waiting_parents', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('follow_up', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_s_tasks_group_id', ['group_id'], unique=False)


def downgrade():
    with op.batch_alter_table('s_tasks') as batch_op:
        batch_op.drop_index('ix_s_tasks_group_id')
        batch_op.drop_column('follow_up')
        batch_op.drop_column('waiting_parents')
        batch_op.drop_column('on_parent_failure')
        batch_op.drop_column('group_id')
    op.drop_index('ix_s_groups_created_at', table_name='s_groups')
    op.drop_table('s_groups')
    op.drop_index('ix_s_task_dependencies_child', table_name='s_task_dependencies')
    op.drop_table('s_task_dependencies')
