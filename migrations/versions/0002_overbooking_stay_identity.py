"""overbookings: the external stay's identity (UID)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('overbookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_uid', sa.String(length=512), nullable=True))
        batch_op.create_index('ix_overbookings_direct_stay', ['direct_code', 'external_uid'], unique=False)
    # Rows recorded before: take the UID from their block when it is still there.
    op.execute(
        "UPDATE overbookings SET external_uid = (SELECT reservations.external_uid FROM reservations "
        "WHERE reservations.code = overbookings.external_code) WHERE external_uid IS NULL")


def downgrade():
    with op.batch_alter_table('overbookings', schema=None) as batch_op:
        batch_op.drop_index('ix_overbookings_direct_stay')
        batch_op.drop_column('external_uid')
