"""Indexes on the columns that refer to a snapshot (and on changes.page_id)

Deleting a snapshot makes the database look for the rows still referring to it
(changes.old_snapshot_id, changes.new_snapshot_id, pages.latest_snapshot_id: foreign
keys on both SQLite and PostgreSQL). Without an index each deleted snapshot cost a scan
of those tables, so `docwatch prune` of a long history took quadratic time. A page's
history reads its changes by changes.page_id.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ('ix_changes_old_snapshot', 'changes', 'old_snapshot_id'),
    ('ix_changes_new_snapshot', 'changes', 'new_snapshot_id'),
    ('ix_changes_page', 'changes', 'page_id'),
    ('ix_pages_latest_snapshot', 'pages', 'latest_snapshot_id'),
]


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
