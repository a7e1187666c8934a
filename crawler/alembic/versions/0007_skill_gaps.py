"""skill_gaps: the gaps reports listed, carried until a skill covers them

The next reports say which skill now covers a gap (Decisions) and propose new skills for
the gaps that persist (Future considerations).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'skill_gaps',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('package', sa.String(length=200), nullable=False),
        sa.Column('group', sa.Text(), nullable=False),
        sa.Column('page_title', sa.Text(), nullable=False),
        sa.Column('term_kind', sa.String(length=16), nullable=True),
        sa.Column('suggested_skill', sa.String(length=200), nullable=True),
        sa.Column('new_skill', sa.Text(), nullable=True),
        sa.Column('first_seen', sa.Date(), nullable=False),
        sa.Column('covered_on', sa.Date(), nullable=True),
        sa.Column('covered_by', sa.String(length=200), nullable=True),
    )
    op.create_index('ix_skill_gaps_first_seen', 'skill_gaps', ['first_seen'])
    op.create_index('ix_skill_gaps_package', 'skill_gaps', ['package'])


def downgrade() -> None:
    op.drop_index('ix_skill_gaps_package', table_name='skill_gaps')
    op.drop_index('ix_skill_gaps_first_seen', table_name='skill_gaps')
    op.drop_table('skill_gaps')
