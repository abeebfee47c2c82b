"""The sync schedule by value: each link's interval and why, its weight in the fleet's budget, when its
calendar last changed and the due time its sync was claimed at; each scheduled run's lateness.

Revision ID: 0016
Revises: 0015
Create Date: 2027-01-24 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calendar_links') as batch:
        batch.add_column(sa.Column('sync_interval_seconds', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('sync_interval_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('sync_weight', sa.Double(), nullable=True))
        batch.add_column(sa.Column('last_changed_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('due_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('sync_runs') as batch:
        batch.add_column(sa.Column('lateness_ms', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('sync_runs') as batch:
        batch.drop_column('lateness_ms')
    with op.batch_alter_table('calendar_links') as batch:
        for column in ('due_at', 'last_changed_at', 'sync_weight', 'sync_interval_reason',
                       'sync_interval_seconds'):
            batch.drop_column(column)
