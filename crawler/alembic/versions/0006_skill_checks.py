"""skill_checks: each date's skill files (digest) and their stale lines

A report says what changed in the skills since the previous one (its Decisions): which
files were edited, which stale lines that resolved and which remain, open since when.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'skill_checks',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('run_date', sa.Date(), nullable=False),
        sa.Column('skill', sa.String(length=200), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('stale', sa.JSON(), nullable=False),
        sa.Column('checked_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('run_date', 'skill'),
    )
    op.create_index('ix_skill_checks_run_date', 'skill_checks', ['run_date'])


def downgrade() -> None:
    op.drop_index('ix_skill_checks_run_date', table_name='skill_checks')
    op.drop_table('skill_checks')
