"""pages.latest_snapshot_id a foreign key on every database

0001 declares it with use_alter (pages and snapshots point at each other), and
Alembic's create_table leaves such a constraint out on a database that can ALTER a
table (PostgreSQL), expecting it added afterwards; SQLite, which cannot, keeps it
inline. This adds it where it is missing. The downgrade drops it only where it was added.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 'fk_pages_latest_snapshot'


def _has_it(bind: sa.Connection) -> bool:
    return any(fk['referred_table'] == 'snapshots'
               and fk['constrained_columns'] == ['latest_snapshot_id']
               for fk in sa.inspect(bind).get_foreign_keys('pages'))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite' or _has_it(bind):
        return
    op.create_foreign_key(NAME, 'pages', 'snapshots', ['latest_snapshot_id'], ['id'])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        return
    # 0001's downgrade drops snapshots before pages: the link must go first.
    op.drop_constraint(NAME, 'pages', type_='foreignkey')
