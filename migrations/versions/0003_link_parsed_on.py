"""calendar_links: the day the feed was last fully parsed

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 14:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calendar_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parsed_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('calendar_links', schema=None) as batch_op:
        batch_op.drop_column('parsed_on')
