"""The outbox costs less to write: one foreign key to the channel and its subscription, and the index of sent
rows holds sent rows only.

A fan-out writes 100,000 rows in one statement, and on PostgreSQL each row's foreign keys are checked one by
one: that was the largest part of the write. `notification.(channel_id, subscription_id)` now refers to
`subscription_channel.(id, subscription_id)` (a unique index there makes it a key) instead of two keys to
`subscription_channel.id` and `subscription.id`: one check per row, and it also holds that a row's subscription
is its channel's (the channel refers to the subscription). `ix_notification_status_sent` serves queries on sent
rows only (the retention job, the latency figure: both compare `sent_at`), so it becomes partial (`sent_at IS
NOT NULL`) and a row written unsent does not enter it. No data changes; the downgrade restores the two keys and
the full index.

Revision ID: 0012_outbox_write_cost
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_outbox_write_cost"
down_revision = "0011_service_mail_channels"
branch_labels = None
depends_on = None

#: names for SQLite's unnamed foreign keys in batch mode (PostgreSQL's have names: the inspector gives them)
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
#: (column, referred table): the keys before this revision, under PostgreSQL's default names when restored
SINGLE_KEYS = [("subscription_id", "subscription"), ("channel_id", "subscription_channel")]
SENT = sa.text("sent_at IS NOT NULL")


def _key_name(column: str, referred: str) -> str:
    for fk in sa.inspect(op.get_bind()).get_foreign_keys("notification"):
        if fk["constrained_columns"] == [column]:
            return fk["name"] or NAMING["fk"] % {
                "table_name": "notification",
                "column_0_name": column,
                "referred_table_name": referred,
            }
    raise LookupError(f"no foreign key on notification.{column}")


def upgrade() -> None:
    op.create_index(
        "uq_subscription_channel_id_subscription", "subscription_channel", ["id", "subscription_id"], unique=True
    )
    names = [_key_name(column, referred) for column, referred in SINGLE_KEYS]
    with op.batch_alter_table("notification", naming_convention=NAMING) as batch:
        for name in names:
            batch.drop_constraint(name, type_="foreignkey")
        batch.create_foreign_key(
            "fk_notification_channel_subscription",
            "subscription_channel",
            ["channel_id", "subscription_id"],
            ["id", "subscription_id"],
        )
    op.drop_index("ix_notification_status_sent", "notification")
    op.create_index(
        "ix_notification_status_sent",
        "notification",
        ["status", "sent_at"],
        postgresql_where=SENT,
        sqlite_where=SENT,
    )


def downgrade() -> None:
    op.drop_index("ix_notification_status_sent", "notification")
    op.create_index("ix_notification_status_sent", "notification", ["status", "sent_at"])
    with op.batch_alter_table("notification") as batch:
        batch.drop_constraint("fk_notification_channel_subscription", type_="foreignkey")
        for column, referred in SINGLE_KEYS:
            batch.create_foreign_key(f"notification_{column}_fkey", referred, [column], ["id"])
    op.drop_index("uq_subscription_channel_id_subscription", "subscription_channel")
