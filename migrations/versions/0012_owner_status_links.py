"""Owner status links: a secret address per property showing its owner the calendars' state

Only the token's hash and the nonce it is derived from (with SECRET_KEY) are stored; a replaced link keeps
its row with ended_at set, so its address answers 404.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 15:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'owner_status_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('property_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('nonce', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=254), nullable=True),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['property_id'], ['properties.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_owner_status_links_property_id', 'owner_status_links', ['property_id'])


def downgrade():
    op.drop_index('ix_owner_status_links_property_id', table_name='owner_status_links')
    op.drop_table('owner_status_links')
