"""Source health alert state of the service (storage/service_models.py).

Revision ID: 0004_source_health
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_source_health"
down_revision = "0003_subscriptions_outbox"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "source_health",
        sa.Column("operator", sa.String(32), primary_key=True),
        sa.Column("alerting", sa.Boolean, nullable=False),
        sa.Column("since", TZ),
        sa.Column("alert_run_id", sa.Integer),
        sa.Column("recovery_run_id", sa.Integer),
        sa.Column("alerted_at", TZ),
        sa.Column("recovered_at", TZ),
        sa.Column("last_error", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("source_health")
