"""Offers carry their currency, and the plan type has room for the travel eSIM types.

A travel eSIM sold only in USD is stored in USD (its price in minor units of it); every offer stored before had
euro prices, so existing rows take EUR. `plan_type` widens to 24 characters for "esim_subscription".

Revision ID: 0008_offer_currency
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_offer_currency"
down_revision = "0007_stay_subscription"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offer") as batch:
        batch.add_column(sa.Column("currency", sa.String(3), nullable=False, server_default="EUR"))
        batch.alter_column("plan_type", existing_type=sa.String(16), type_=sa.String(24), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("offer") as batch:
        batch.alter_column("plan_type", existing_type=sa.String(24), type_=sa.String(16), existing_nullable=False)
        batch.drop_column("currency")
