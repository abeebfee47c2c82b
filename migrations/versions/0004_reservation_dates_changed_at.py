"""reservations: when the row was created or its dates last changed (not a UID/summary rewrite)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dates_changed_at', sa.DateTime(), nullable=True))
    # Rows stored before: their last change is the best date we have (what detection used until now).
    op.execute("UPDATE reservations SET dates_changed_at = COALESCE(updated_at, created_at) "
               "WHERE dates_changed_at IS NULL")
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.alter_column('dates_changed_at', existing_type=sa.DateTime(), nullable=False)


def downgrade():
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_column('dates_changed_at')
