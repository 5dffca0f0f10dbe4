"""per-task calibration, ECE and a user-chosen threshold on run task metrics

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("calibration_slope", "calibration_intercept", "ece_raw", "ece", "user_threshold")


def upgrade() -> None:
    with op.batch_alter_table("run_task_metric", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_task_metric", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
