"""analysis_cache: what a report worked out from the stored pages, for the next one

The terms the docs stopped teaching and the code lines they changed are worked out from
every current page's text and the whole history, which took a report time in proportion
to the pages stored. They depend only on the pages and their snapshots (which never
change once written): a report whose pages are the ones of the last report reads the
value back (crawler.store.analysis_cache).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'analysis_cache',
        sa.Column('name', sa.String(length=64), primary_key=True),
        sa.Column('inputs', sa.String(length=64), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('computed_at', sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('analysis_cache')
