"""Prevented overbookings: stays a fresh availability read found taken before a direct booking

Revision ID: 0015
Revises: 0014
Create Date: 2027-02-01 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'prevented_overbookings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('property_id', sa.Integer(), nullable=False),
        sa.Column('link_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('check_in', sa.Date(), nullable=False),
        sa.Column('check_out', sa.Date(), nullable=False),
        sa.Column('external_code', sa.String(length=20), nullable=False),
        sa.Column('detected_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['property_id'], ['properties.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['link_id'], ['calendar_links.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('property_id', 'check_in', 'check_out', 'external_code',
                            name='uq_prevented_stay_block'),
    )
    op.create_index('ix_prevented_overbookings_property_id', 'prevented_overbookings', ['property_id'])
    op.create_index('ix_prevented_overbookings_link_id', 'prevented_overbookings', ['link_id'])
    op.create_index('ix_prevented_overbookings_detected_at', 'prevented_overbookings', ['detected_at'])


def downgrade():
    op.drop_index('ix_prevented_overbookings_detected_at', table_name='prevented_overbookings')
    op.drop_index('ix_prevented_overbookings_link_id', table_name='prevented_overbookings')
    op.drop_index('ix_prevented_overbookings_property_id', table_name='prevented_overbookings')
    op.drop_table('prevented_overbookings')
