"""Subscriptions may watch a saved stay: its days and GB, and the cheapest card last told (alerts/stay_alerts.py).

Existing subscriptions watch no stay (the three columns null).

Revision ID: 0007_stay_subscription
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_stay_subscription"
down_revision = "0006_subscription_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscription") as batch:
        batch.add_column(sa.Column("stay_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("stay_gb", sa.Float(), nullable=True))
        batch.add_column(sa.Column("stay_cheapest", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscription") as batch:
        batch.drop_column("stay_cheapest")
        batch.drop_column("stay_gb")
        batch.drop_column("stay_days")
