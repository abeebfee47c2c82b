"""calendar_links: ids are never given again (SQLite AUTOINCREMENT)

SQLite hands out max(id) + 1, so a link added after the newest link was deleted got the deleted link's
id, and with it whatever was still keyed by that id (its last job in Redis, its alerts' history). With
AUTOINCREMENT it keeps the highest id ever given in sqlite_sequence and never goes back. SQLite cannot
add AUTOINCREMENT to a table, so the table is rebuilt (batch mode: new table, rows copied with their
ids, old one dropped, new one renamed; its indexes made again). The tables that refer to it keep their
rows and keys: migrations run with SQLite's foreign keys off (migrations/env.py), so dropping the old
copy fires no ON DELETE action. PostgreSQL sequences never give an id twice: nothing to do there.

Revision ID: 0013
Revises: 0012
Create Date: 2027-02-01 12:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != 'sqlite':
        return
    with op.batch_alter_table('calendar_links', recreate='always',
                              table_kwargs={'sqlite_autoincrement': True}):
        pass


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        return
    with op.batch_alter_table('calendar_links', recreate='always',
                              table_kwargs={'sqlite_autoincrement': False}):
        pass
