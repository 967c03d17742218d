"""The outbox's retention counts, and the indexes of the hot queries.

`notification_sent_count`: how many sent notifications the retention job deleted, per UTC day and channel
service (alerts/retention.py); the figures of sends add them. The indexes serve the queries the service and the
web run on their hot paths (tests/test_indexes_pg.py explains each of them over a grown database). Existing
rows are kept; the downgrade drops the table (the counts of purged rows with it) and the indexes.

Revision ID: 0009_retention_indexes
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009_retention_indexes"
down_revision = "0008_offer_currency"
branch_labels = None
depends_on = None

#: (index, table, columns, dialect options)
INDEXES: list[tuple[str, str, list[str], dict[str, Any]]] = [
    ("ix_notification_status_sent", "notification", ["status", "sent_at"], {}),
    ("ix_crawl_run_operator_id", "crawl_run", ["operator", "id"], {}),
    ("ix_subscription_stay_days", "subscription", ["stay_days"], {}),
    ("ix_subscription_rearm_hours", "subscription", ["rearm_hours"], {}),
    ("ix_subscription_channel_url", "subscription_channel", ["url"], {"postgresql_using": "hash"}),
]


def upgrade() -> None:
    op.create_table(
        "notification_sent_count",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("sent", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
    )
    for name, table, columns, options in INDEXES:
        op.create_index(name, table, columns, **options)


def downgrade() -> None:
    for name, table, _, _ in reversed(INDEXES):
        op.drop_index(name, table)
    op.drop_table("notification_sent_count")
