"""Due links read from an index: the active links by due time

Streaming batches ask for the longest-waiting due links about twice a second per worker; without this
partial index each ask scanned every active link (20,000 rows at 20,000 links). Now it is a walk down the
index to the first `limit` due links, whatever the fleet's size.

Revision ID: 0017
Revises: 0016
Create Date: 2027-02-10 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_calendar_links_due', 'calendar_links', ['next_sync_at', 'id'],
                    postgresql_where=sa.text("state = 'active'"), sqlite_where=sa.text("state = 'active'"))


def downgrade():
    op.drop_index('ix_calendar_links_due', table_name='calendar_links')
