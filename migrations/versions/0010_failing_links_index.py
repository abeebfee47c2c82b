"""calendar_links: an index on (last_attempt_ok, consecutive_failures) for the dashboard's failing links

The dashboard lists the 25 links failing longest: with the index that is a walk down its failing end,
whatever the fleet's size, instead of a scan of every link.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-20 12:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_calendar_links_failing', 'calendar_links',
                    ['last_attempt_ok', 'consecutive_failures'])


def downgrade():
    op.drop_index('ix_calendar_links_failing', table_name='calendar_links')
