"""Subscriptions get a life cycle (pending -> active <-> paused -> unsubscribed), a consent record, a key for
their signed links, guarded channels, and a table that counts requests for rate limits.

Every existing subscription was made by the operator (`promowatch subscribe`): it needs no opt-in, so an active
one becomes `active`, confirmed when it was created; an inactive one (`promowatch unsubscribe`) `unsubscribed`.

Revision ID: 0006_subscription_lifecycle
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006_subscription_lifecycle"
down_revision = "0005_notification_failure_kind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscription") as batch:
        batch.add_column(sa.Column("status", sa.String(12), nullable=False, server_default="active"))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("link_key", sa.String(16), nullable=True))
    sub = sa.table(
        "subscription",
        sa.column("id", sa.Integer),
        sa.column("active", sa.Boolean),
        sa.column("status", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("confirmed_at", sa.DateTime(timezone=True)),
        sa.column("link_key", sa.String),
    )
    conn = op.get_bind()
    conn.execute(sub.update().where(sub.c.active.is_(False)).values(status="unsubscribed"))
    conn.execute(sub.update().values(confirmed_at=sub.c.created_at))
    ids = [row.id for row in conn.execute(sa.select(sub.c.id))]
    for start in range(0, len(ids), 500):
        conn.execute(
            sub.update().where(sub.c.id == sa.bindparam("sid")).values(link_key=sa.bindparam("key")),
            [{"sid": i, "key": secrets.token_hex(8)} for i in ids[start : start + 500]],
        )
    with op.batch_alter_table("subscription") as batch:
        batch.alter_column("link_key", existing_type=sa.String(16), nullable=False)
        batch.create_index("ix_subscription_status_created", ["status", "created_at"])
    with op.batch_alter_table("subscription_channel") as batch:
        batch.add_column(sa.Column("guarded", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "subscription_consent",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscription_id", sa.Integer, sa.ForeignKey("subscription.id"), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("filters", sa.JSON, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("ip_hash", sa.String(64), nullable=True),
    )
    op.create_index("ix_subscription_consent_subscription_id", "subscription_consent", ["subscription_id"])
    op.create_table(
        "rate_limit_hit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rate_limit_hit_bucket_key_at", "rate_limit_hit", ["bucket", "key_hash", "at"])


def downgrade() -> None:
    op.drop_index("ix_rate_limit_hit_bucket_key_at", "rate_limit_hit")
    op.drop_table("rate_limit_hit")
    op.drop_index("ix_subscription_consent_subscription_id", "subscription_consent")
    op.drop_table("subscription_consent")
    with op.batch_alter_table("subscription_channel") as batch:
        batch.drop_column("guarded")
    with op.batch_alter_table("subscription") as batch:
        batch.drop_index("ix_subscription_status_created")
        batch.drop_column("link_key")
        batch.drop_column("confirmed_at")
        batch.drop_column("status")
