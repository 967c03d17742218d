"""Subscriptions, their channels and the notification outbox.

Revision ID: 0003_subscriptions_outbox
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_subscriptions_outbox"
down_revision = "0002_offer_event"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("digest", sa.String(8), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("quiet_start", sa.String(5)),
        sa.Column("quiet_end", sa.String(5)),
        sa.Column("rearm_hours", sa.Integer, nullable=False),
        sa.Column("operators", sa.JSON, nullable=False),
        sa.Column("plan_types", sa.JSON, nullable=False),
        sa.Column("kinds", sa.JSON, nullable=False),
        sa.Column("max_price_cents", sa.Integer),
        sa.Column("min_gb", sa.Float),
        sa.Column("only_5g", sa.Boolean, nullable=False),
        sa.Column("origin", sa.String(32)),
        sa.Column("max_eur_per_gb_cents", sa.Float),
        sa.Column("max_year_cents", sa.Integer),
    )
    op.create_index("ix_subscription_active", "subscription", ["active"])
    op.create_table(
        "subscription_channel",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscription_id", sa.Integer, sa.ForeignKey("subscription.id"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("url_masked", sa.Text, nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
    )
    op.create_index("ix_subscription_channel_subscription_id", "subscription_channel", ["subscription_id"])
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscription_id", sa.Integer, sa.ForeignKey("subscription.id"), nullable=False),
        sa.Column("channel_id", sa.Integer, sa.ForeignKey("subscription_channel.id"), nullable=False),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("offer_event.id")),
        sa.Column("event_ids", sa.JSON, nullable=False),
        sa.Column("digest", sa.String(32)),
        sa.Column("operator", sa.String(32)),
        sa.Column("offer_key", sa.String(200)),
        sa.Column("kind", sa.String(16)),
        sa.Column("price_cents", sa.Integer),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("claimed_at", TZ),
        sa.Column("sent_at", TZ),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("channel_id", "event_id", name="uq_notification_channel_event"),
    )
    op.create_index("ix_notification_status_due", "notification", ["status", "due_at"])
    op.create_index(
        "ix_notification_debounce", "notification", ["subscription_id", "operator", "offer_key", "kind", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("notification")
    op.drop_table("subscription_channel")
    op.drop_table("subscription")
