"""Fleet costs: an index on every foreign key column; each property's newest score kept on its row

A prune or a delete follows every foreign key (ON DELETE SET NULL/CASCADE checks): without an index each
deleted row scans the child table. The ranking pull reads the newest scores in one range scan of properties.

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-10 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# (table, column) of every foreign key that had no index of its own before this revision.
FK_INDEXES = [
    ('overbookings', 'link_id'),
    ('overbookings', 'sync_run_id'),
    ('notifications', 'incident_id'),
    ('notification_deliveries', 'recipient_id'),
    ('notification_deliveries', 'digest_id'),
    ('link_alert_states', 'incident_id'),
    ('link_alert_states', 'failure_notification_id'),
]
SCORE_COLUMNS = ('score_snapshot_id', 'score_value', 'score_components', 'score_computed_at')


def upgrade():
    for table, column in FK_INDEXES:
        op.create_index(f'ix_{table}_{column}', table, [column], unique=False)
    with op.batch_alter_table('properties', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score_snapshot_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('score_value', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('score_components', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('score_computed_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_properties_score_value', ['score_value'], unique=False)
    # Each property's newest snapshot, in the order every reader uses (computed_at, then id).
    newest = ("(SELECT s.id FROM score_snapshots s WHERE s.property_id = properties.id "
              "ORDER BY s.computed_at DESC, s.id DESC LIMIT 1)")
    op.execute(f"UPDATE properties SET score_snapshot_id = {newest}")
    for column, source in (('score_value', 'score'), ('score_components', 'components'),
                           ('score_computed_at', 'computed_at')):
        op.execute(f"UPDATE properties SET {column} = (SELECT s.{source} FROM score_snapshots s "
                   "WHERE s.id = properties.score_snapshot_id) "
                   "WHERE score_snapshot_id IS NOT NULL")


def downgrade():
    with op.batch_alter_table('properties', schema=None) as batch_op:
        batch_op.drop_index('ix_properties_score_value')
        for column in reversed(SCORE_COLUMNS):
            batch_op.drop_column(column)
    for table, column in reversed(FK_INDEXES):
        op.drop_index(f'ix_{table}_{column}', table_name=table)
