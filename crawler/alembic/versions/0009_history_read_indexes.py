"""Indexes for the reads a nightly report makes of the skills' history

A report reads each skill's latest checks (skill_checks by skill, newest dates first)
and the gaps still open (skill_gaps with no covered_on, or a recent one), and every run
looks for the snapshots an older grammar read (snapshots.grammar). Without these
indexes each read every row ever recorded: a night grew with the history.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ('ix_skill_checks_skill_date', 'skill_checks', ['skill', 'run_date']),
    ('ix_skill_gaps_covered_on', 'skill_gaps', ['covered_on']),
    ('ix_snapshots_grammar', 'snapshots', ['grammar']),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
