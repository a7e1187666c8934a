"""target_states: a source's memory of each of its targets in a row of its own

An ExDoc source kept the index of every package root in one JSON document
(``sources.state["exdoc"]``), read whole as a run started and written whole at its end:
at 10,000 roots, some 80 MB held for the whole run. Each root's index now has its own
row, read as the crawl reaches the root; the indexes already remembered move there, key
for key, so the next run still asks only the conditional requests it asked before.

A run also reads a package root's pages as it reaches the root, by a range of URLs.
PostgreSQL compares text in the database's collation, where a range of URLs is not
their prefix (most collations skip punctuation at first): it gets an index of the URLs
in byte order, which the range read asks for.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The key of the per-root memory inside an ExDoc source's state.
EXDOC = 'exdoc'
sources = sa.table('sources', sa.column('name', sa.String), sa.column('state', sa.JSON))
target_states = sa.table('target_states', sa.column('source', sa.String),
                         sa.column('target', sa.String), sa.column('state', sa.JSON))


def upgrade() -> None:
    op.create_table(
        'target_states',
        sa.Column('source', sa.String(length=200), sa.ForeignKey('sources.name'),
                  primary_key=True),
        sa.Column('target', sa.String(length=2000), primary_key=True),
        sa.Column('state', sa.JSON(), nullable=False),
    )
    bind = op.get_bind()
    for name, state in bind.execute(sa.select(sources.c.name, sources.c.state)).all():
        if not isinstance(state, dict) or not isinstance(state.get(EXDOC), dict):
            continue
        rows = [{'source': name, 'target': target, 'state': value}
                for target, value in state[EXDOC].items()]
        if rows:
            bind.execute(target_states.insert(), rows)
        rest = {key: value for key, value in state.items() if key != EXDOC}
        bind.execute(sources.update().where(sources.c.name == name).values(state=rest))
    if bind.dialect.name == 'postgresql':
        op.execute('CREATE INDEX ix_pages_source_url_bytes ON pages (source, (url COLLATE "C"))')


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_pages_source_url_bytes')
    remembered: dict[str, dict[str, object]] = {}
    for name, target, value in bind.execute(
            sa.select(target_states.c.source, target_states.c.target, target_states.c.state)):
        remembered.setdefault(name, {})[target] = value
    for name, state in bind.execute(sa.select(sources.c.name, sources.c.state)).all():
        if name in remembered:
            bind.execute(sources.update().where(sources.c.name == name)
                         .values(state={**(state or {}), EXDOC: remembered[name]}))
    op.drop_table('target_states')
