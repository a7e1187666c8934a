"""target_states for hex.pm packages: each package's memory in a row of its own

A hexpm source kept what it remembers of every package (its document's validators and
the URLs of the items it gave) in one JSON document, ``sources.state["hexpm"]``, read
whole as a run started and written whole at its end: a source of thousands of packages
held them all for the run. Each package now has its own ``target_states`` row (the
target is the package name), read as the crawl reaches it, as an ExDoc root's index is
since 0011; what is remembered moves there, so the next run asks what it asked before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The key of the per-package memory inside a hexpm source's state.
HEXPM = 'hexpm'
sources = sa.table('sources', sa.column('name', sa.String), sa.column('kind', sa.String),
                   sa.column('state', sa.JSON))
target_states = sa.table('target_states', sa.column('source', sa.String),
                         sa.column('target', sa.String), sa.column('state', sa.JSON))


def upgrade() -> None:
    bind = op.get_bind()
    for name, state in bind.execute(sa.select(sources.c.name, sources.c.state)
                                    .where(sources.c.kind == HEXPM)).all():
        if not isinstance(state, dict) or not isinstance(state.get(HEXPM), dict):
            continue
        rows = [{'source': name, 'target': package, 'state': value}
                for package, value in state[HEXPM].items() if isinstance(value, dict)]
        if rows:
            bind.execute(target_states.insert(), rows)
        rest = {key: value for key, value in state.items() if key != HEXPM}
        bind.execute(sources.update().where(sources.c.name == name).values(state=rest))


def downgrade() -> None:
    bind = op.get_bind()
    for name, state in bind.execute(sa.select(sources.c.name, sources.c.state)
                                    .where(sources.c.kind == HEXPM)).all():
        remembered = dict(bind.execute(
            sa.select(target_states.c.target, target_states.c.state)
            .where(target_states.c.source == name)).all())
        if not remembered:
            continue
        bind.execute(target_states.delete().where(target_states.c.source == name))
        bind.execute(sources.update().where(sources.c.name == name)
                     .values(state={**(state if isinstance(state, dict) else {}),
                                    HEXPM: remembered}))
