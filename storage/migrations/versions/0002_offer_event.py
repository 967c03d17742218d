"""Change events: offer_event, crawl_run.presence and crawl_run.detected_at.

Crawls stored before this revision count as already detected (they are the baseline the next crawl is
compared with), so upgrading never replays old history as a burst of events.

Revision ID: 0002_offer_event
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_offer_event"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_run") as batch:
        batch.add_column(sa.Column("presence", sa.JSON))
        batch.add_column(sa.Column("detected_at", sa.DateTime(timezone=True)))
    op.execute(sa.text("UPDATE crawl_run SET detected_at = finished_at WHERE status = 'healthy'"))
    op.create_table(
        "offer_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("crawl_run_id", sa.Integer, sa.ForeignKey("crawl_run.id"), nullable=False),
        sa.Column("offer_id", sa.Integer, sa.ForeignKey("offer.id"), nullable=False),
        sa.Column("operator", sa.String(32), nullable=False),
        sa.Column("offer_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("price_before", sa.Integer),
        sa.Column("price_after", sa.Integer),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("item", sa.JSON, nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("offer_version.id")),
        sa.UniqueConstraint("crawl_run_id", "offer_id", name="uq_offer_event_run_offer"),
    )
    op.create_index("ix_offer_event_created", "offer_event", ["created_at"])
    op.create_index("ix_offer_event_operator_created", "offer_event", ["operator", "created_at"])
    op.create_index("ix_offer_event_kind_created", "offer_event", ["kind", "created_at"])
    op.create_index("ix_offer_event_offer", "offer_event", ["offer_id", "id"])


def downgrade() -> None:
    op.drop_table("offer_event")
    with op.batch_alter_table("crawl_run") as batch:
        batch.drop_column("detected_at")
        batch.drop_column("presence")
