"""snapshots.grammar: the version of the notice grammar a snapshot's notices were read with

Notices (deprecations, removals, renames) are read from a page when it is stored. When
docwatch learns more phrasings, the notices of pages that have not changed since must
be read again: rows from before this column say 0, and ``refresh_notices`` reads the
current pages' notices again with the grammar of the running docwatch.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('snapshots') as batch:
        batch.add_column(sa.Column('grammar', sa.Integer(), nullable=False,
                                   server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('snapshots') as batch:
        batch.drop_column('grammar')
