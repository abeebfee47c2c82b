"""A link remembers the sync it was promised: when it was queued and by which job

A sync queued in Redis is lost when Redis restarts empty or its worker dies; the database now knows that a
sync was requested (at, job id), so the sweep of lost syncs queues it again or records its outcome.

Revision ID: 0014
Revises: 0013
Create Date: 2027-01-22 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calendar_links') as batch:
        batch.add_column(sa.Column('sync_requested_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('sync_job_id', sa.String(length=64), nullable=True))
    op.create_index('ix_calendar_links_sync_requested_at', 'calendar_links', ['sync_requested_at'])


def downgrade():
    op.drop_index('ix_calendar_links_sync_requested_at', table_name='calendar_links')
    with op.batch_alter_table('calendar_links') as batch:
        batch.drop_column('sync_job_id')
        batch.drop_column('sync_requested_at')
