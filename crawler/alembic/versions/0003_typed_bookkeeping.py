"""typed bookkeeping: columns for what pages.meta and sources.meta carried besides facts

pages.meta kept the store's own bookkeeping next to the item's facts ("validators",
"moved_to", "suspect"), and sources.meta the source's memory ("state",
"index_suspects"). They move to their own columns, values kept; sources.meta goes.
A modified package recorded before changes.details.before existed gets its
{"latest_stable_version": X} from the old snapshot's text (the downgrade leaves it:
the recorder of 0002 writes it too).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables as this migration sees them (not today's models).
pages = sa.table('pages', sa.column('id', sa.Integer), sa.column('item', sa.String),
                 sa.column('meta', sa.JSON), sa.column('aux_validators', sa.JSON),
                 sa.column('moved_to', sa.String), sa.column('suspect_hash', sa.String),
                 sa.column('suspect_runs', sa.Integer))
sources = sa.table('sources', sa.column('name', sa.String), sa.column('meta', sa.JSON),
                   sa.column('state', sa.JSON), sa.column('index_suspects', sa.JSON))
changes = sa.table('changes', sa.column('id', sa.Integer), sa.column('page_id', sa.Integer),
                   sa.column('kind', sa.String), sa.column('details', sa.JSON),
                   sa.column('old_snapshot_id', sa.Integer))
snapshots = sa.table('snapshots', sa.column('id', sa.Integer),
                     sa.column('content', sa.LargeBinary))
BOOKKEEPING = ('validators', 'moved_to', 'suspect')


def upgrade() -> None:
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('aux_validators', sa.JSON(), nullable=False,
                                      server_default='{}'))
        batch_op.add_column(sa.Column('moved_to', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('suspect_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('suspect_runs', sa.Integer(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.JSON(), nullable=False,
                                      server_default='{}'))
        batch_op.add_column(sa.Column('index_suspects', sa.JSON(), nullable=False,
                                      server_default='{}'))
    bind = op.get_bind()
    for page_id, meta in bind.execute(sa.select(pages.c.id, pages.c.meta)).all():
        meta = meta or {}
        if not any(key in meta for key in BOOKKEEPING):
            continue
        suspect = meta.get('suspect') or {}
        bind.execute(pages.update().where(pages.c.id == page_id).values(
            meta={k: v for k, v in meta.items() if k not in BOOKKEEPING},
            aux_validators=meta.get('validators') or {}, moved_to=meta.get('moved_to'),
            suspect_hash=suspect.get('hash'),
            suspect_runs=suspect.get('runs', 0) if suspect.get('hash') else 0))
    for name, meta in bind.execute(sa.select(sources.c.name, sources.c.meta)).all():
        meta = meta or {}
        bind.execute(sources.update().where(sources.c.name == name).values(
            state=meta.get('state') or {}, index_suspects=meta.get('index_suspects') or {}))
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_column('meta')
    _backfill_package_before(bind)


def _backfill_package_before(bind: sa.Connection) -> None:
    """details.before of a modified package, from its old snapshot's text."""
    rows = bind.execute(
        sa.select(changes.c.id, changes.c.details, snapshots.c.content)
        .join(pages, pages.c.id == changes.c.page_id)
        .join(snapshots, snapshots.c.id == changes.c.old_snapshot_id)
        .where(pages.c.item == 'package', changes.c.kind == 'modified')).all()
    for change_id, details, content in rows:
        details = details or {}
        if 'before' in details or content is None:
            continue
        stable = _field(zlib.decompress(content).decode('utf-8'), 'latest stable version')
        if stable is None:
            continue  # not a package text: nothing known of before
        bind.execute(changes.update().where(changes.c.id == change_id).values(
            details={**details, 'before': {
                'latest_stable_version': None if stable in ('', 'None') else stable}}))


def _field(text: str, name: str) -> str | None:
    """The value of the ``name: value`` line of a package text."""
    for line in text.splitlines():
        key, _, value = line.partition(':')
        if key.strip() == name:
            return value.strip()
    return None


def downgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meta', sa.JSON(), nullable=False,
                                      server_default='{}'))
    bind = op.get_bind()
    for name, state, suspects in bind.execute(
            sa.select(sources.c.name, sources.c.state, sources.c.index_suspects)).all():
        meta = {'state': state or {}}
        if suspects:
            meta['index_suspects'] = suspects
        bind.execute(sources.update().where(sources.c.name == name).values(meta=meta))
    for page_id, meta, aux, moved_to, suspect_hash, suspect_runs in bind.execute(
            sa.select(pages.c.id, pages.c.meta, pages.c.aux_validators, pages.c.moved_to,
                      pages.c.suspect_hash, pages.c.suspect_runs)).all():
        if not (aux or moved_to or suspect_hash):
            continue
        meta = dict(meta or {})
        if aux:
            meta['validators'] = aux
        if moved_to:
            meta['moved_to'] = moved_to
        if suspect_hash:
            meta['suspect'] = {'hash': suspect_hash, 'runs': suspect_runs}
        bind.execute(pages.update().where(pages.c.id == page_id).values(meta=meta))
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.alter_column('meta', server_default=None)  # as 0001 made it
        batch_op.drop_column('index_suspects')
        batch_op.drop_column('state')
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_column('suspect_runs')
        batch_op.drop_column('suspect_hash')
        batch_op.drop_column('moved_to')
        batch_op.drop_column('aux_validators')
