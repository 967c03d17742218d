"""Outbox rows say what kind their last failure was, and count the tries that may have delivered.

`failure_kind` (refused, dns, http, timeout_after_send, ...) and `ambiguous_failures` (sent, no answer in time)
let the sender retry a maybe-delivered message with a long back-off and a small cap (alerts/deliver.py).

Revision ID: 0005_notification_failure_kind
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_notification_failure_kind"
down_revision = "0004_source_health"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.add_column(sa.Column("failure_kind", sa.String(24), nullable=True))
        batch.add_column(sa.Column("ambiguous_failures", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("ambiguous_failures")
        batch.drop_column("failure_kind")
