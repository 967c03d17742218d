"""Initial schema: crawl_run, offer, offer_version.

Revision ID: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crawl_run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("operator", sa.String(32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finish_reason", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("items_scraped", sa.Integer, nullable=False),
        sa.Column("items_stored", sa.Integer, nullable=False),
        sa.Column("items_dropped", sa.Integer, nullable=False),
        sa.Column("dropped_reasons", sa.JSON, nullable=False),
        sa.Column("new_versions", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_crawl_run_operator_started", "crawl_run", ["operator", "started_at"])
    op.create_table(
        "offer",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("operator", sa.String(32), nullable=False),
        sa.Column("offer_key", sa.String(200), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("plan_type", sa.String(16), nullable=False),
        sa.Column("price_cents", sa.Integer, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("missed_crawls", sa.Integer, nullable=False),
        sa.Column("current_version_id", sa.Integer),
        sa.UniqueConstraint("operator", "offer_key", name="uq_offer_operator_key"),
    )
    op.create_index("ix_offer_operator", "offer", ["operator"])
    op.create_table(
        "offer_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("offer_id", sa.Integer, sa.ForeignKey("offer.id"), nullable=False),
        sa.Column("crawl_run_id", sa.Integer, sa.ForeignKey("crawl_run.id"), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_offer_version_offer_valid", "offer_version", ["offer_id", "valid_from"])


def downgrade() -> None:
    op.drop_table("offer_version")
    op.drop_table("offer")
    op.drop_table("crawl_run")
