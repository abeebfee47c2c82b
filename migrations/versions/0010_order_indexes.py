"""Orders read from indexes: the dashboard's failing links, the property list's "needs attention first"

The dashboard lists the 25 links failing longest; the property list opens on the properties with the most
nights at stake, then the highest risk, then by name. Each is now a walk down one index, whatever the
fleet's size, instead of a sort of every link or property. The risk level's rank is a generated column
(the database computes it from risk_level, whoever writes that): stored on PostgreSQL, virtual on SQLite
(which adds only virtual columns to an existing table; an index keeps its values all the same).

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-20 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

RISK_RANK_SQL = "CASE risk_level WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 ELSE 0 END"


def upgrade():
    op.create_index('ix_calendar_links_failing', 'calendar_links',
                    ['last_attempt_ok', 'consecutive_failures', 'id'])
    stored = op.get_bind().dialect.name != 'sqlite'
    op.add_column('properties', sa.Column('risk_rank', sa.Integer(),
                                          sa.Computed(RISK_RANK_SQL, persisted=stored), nullable=False))
    op.create_index('ix_properties_attention', 'properties',
                    [sa.text('exposure_nights DESC'), sa.text('risk_rank DESC'), 'name_key', 'id'])


def downgrade():
    op.drop_index('ix_properties_attention', table_name='properties')
    with op.batch_alter_table('properties') as batch:
        batch.drop_column('risk_rank')
    op.drop_index('ix_calendar_links_failing', table_name='calendar_links')
