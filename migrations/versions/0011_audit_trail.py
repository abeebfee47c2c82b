"""The audit trail: one append-only entry per change a person or a token made (who, what, which object,
which property, what changed, from where, when); pruned after AUDIT_RETENTION_DAYS.

Revision ID: 0011
Revises: 0010
Create Date: 2027-02-01 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor_kind', sa.String(length=8), nullable=False),
        sa.Column('actor_name', sa.String(length=254), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('target_kind', sa.String(length=24), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=True),
        sa.Column('property_id', sa.Integer(), nullable=True),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('remote_addr', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_audit_entries_at', 'audit_entries', ['at'])
    op.create_index('ix_audit_entries_actor_name', 'audit_entries', ['actor_name'])
    op.create_index('ix_audit_entries_action', 'audit_entries', ['action'])
    op.create_index('ix_audit_entries_property_id_id', 'audit_entries', ['property_id', 'id'])


def downgrade():
    op.drop_index('ix_audit_entries_property_id_id', table_name='audit_entries')
    op.drop_index('ix_audit_entries_action', table_name='audit_entries')
    op.drop_index('ix_audit_entries_actor_name', table_name='audit_entries')
    op.drop_index('ix_audit_entries_at', table_name='audit_entries')
    op.drop_table('audit_entries')
