"""s_schedules.preset_id: a schedule may run a preset (its worker, action, data and priority)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('s_schedules') as batch_op:
        batch_op.add_column(sa.Column('preset_id', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_s_schedules_preset_id', ['preset_id'], unique=False)


def downgrade():
    with op.batch_alter_table('s_schedules') as batch_op:
        batch_op.drop_index('ix_s_schedules_preset_id')
        batch_op.drop_column('preset_id')
