"""label_check: out-of-fold probabilities of known cells, for "likely label errors"

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "label_check",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["image.id"], name=op.f("fk_label_check_image_id_image")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_label_check_run_id_run"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_label_check_task_id_task")),
        sa.PrimaryKeyConstraint("run_id", "image_id", "task_id", name=op.f("pk_label_check")),
    )
    with op.batch_alter_table("label_check", schema=None) as batch_op:
        batch_op.create_index(
            "ix_label_check_run_task_probability_image",
            ["run_id", "task_id", "probability", "image_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("label_check", schema=None) as batch_op:
        batch_op.drop_index("ix_label_check_run_task_probability_image")
    op.drop_table("label_check")
