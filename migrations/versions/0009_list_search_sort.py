"""List search and order: each property's folded search text, natural sort key and exposure; owners' folded e-mail

The search key (name, city, external reference without case or accents) and the natural sort key are
computed in Python by the same functions the ORM uses (console/models/text_keys.py), in batches of ids.
The exposure starts at 0 and is filled by the next risk pass (hourly, and after each sync).

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-20 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

from console.models.text_keys import NAME_KEY_MAX, SEARCH_KEY_MAX, fold, name_key, search_key

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BACKFILL_BATCH = 2000


def _backfill_owners(conn):
    """Every existing owner's folded e-mail, BACKFILL_BATCH rows at a time."""
    owners = sa.table('owners', sa.column('id', sa.Integer), sa.column('email', sa.String),
                      sa.column('email_key', sa.String))
    update = owners.update().where(owners.c.id == sa.bindparam('oid')).values(email_key=sa.bindparam('key'))
    last = 0
    while True:
        rows = conn.execute(sa.select(owners.c.id, owners.c.email).where(owners.c.id > last)
                            .order_by(owners.c.id).limit(BACKFILL_BATCH)).all()
        if not rows:
            return
        conn.execute(update, [{'oid': oid, 'key': fold(email)[:254]} for oid, email in rows])
        last = rows[-1][0]


def _backfill(conn):
    """Every existing property's keys, BACKFILL_BATCH rows per read and per executemany."""
    props = sa.table('properties', sa.column('id', sa.Integer), sa.column('name', sa.String),
                     sa.column('city', sa.String), sa.column('external_ref', sa.String),
                     sa.column('search_key', sa.String), sa.column('name_key', sa.String))
    update = props.update().where(props.c.id == sa.bindparam('pid')).values(
        search_key=sa.bindparam('skey'), name_key=sa.bindparam('nkey'))
    last = 0
    while True:
        rows = conn.execute(sa.select(props.c.id, props.c.name, props.c.city, props.c.external_ref)
                            .where(props.c.id > last).order_by(props.c.id).limit(BACKFILL_BATCH)).all()
        if not rows:
            return
        conn.execute(update, [{'pid': pid, 'skey': search_key(name, city, ref), 'nkey': name_key(name)}
                              for pid, name, city, ref in rows])
        last = rows[-1][0]


def upgrade():
    with op.batch_alter_table('owners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_key', sa.String(length=254), nullable=False, server_default=''))
    with op.batch_alter_table('properties', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_key', sa.String(length=SEARCH_KEY_MAX), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('name_key', sa.String(length=NAME_KEY_MAX).with_variant(
            sa.String(length=NAME_KEY_MAX, collation='C'), 'postgresql'), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('exposure_nights', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index('ix_properties_name_key', ['name_key'], unique=False)
        batch_op.create_index('ix_properties_exposure_nights', ['exposure_nights'], unique=False)
    _backfill(op.get_bind())
    _backfill_owners(op.get_bind())


def downgrade():
    with op.batch_alter_table('properties', schema=None) as batch_op:
        batch_op.drop_index('ix_properties_exposure_nights')
        batch_op.drop_index('ix_properties_name_key')
        batch_op.drop_column('exposure_nights')
        batch_op.drop_column('name_key')
        batch_op.drop_column('search_key')
    with op.batch_alter_table('owners', schema=None) as batch_op:
        batch_op.drop_column('email_key')
