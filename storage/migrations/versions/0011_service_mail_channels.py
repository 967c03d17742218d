"""Self-service email channels keep the subscriber's address only, not the service's SMTP credentials.

A web subscription's email channel was stored as the whole Apprise URL, with the `[mail]` account (user,
password, server) it was made with: a new password or server in `[mail]` broke every such subscription. It is now
stored as `service-mail:<address>` and the URL is built from the current `[mail]` when a message is sent
(alerts/channels.py `sendable_url`). A data migration, no schema change: the channels of subscriptions with a
consent record (the web's; an operator's own Apprise URLs have none) whose URL is the one `mail_url` made (mailto
or mailtos, `smtp=`, `from=` and one `to=` address) become `service-mail:<that address>`; nothing else changes.

The downgrade cannot put the credentials back (they are no longer stored anywhere but in `[mail]`): it leaves
those rows as they are; an older promowatch then refuses to send to them (an unusable URL), it never sends to
anyone else.

Revision ID: 0011_service_mail_channels
"""

import re
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0011_service_mail_channels"
down_revision = "0009_retention_indexes"
branch_labels = None
depends_on = None

SERVICE_MAIL = "service-mail:"
_ADDRESS = re.compile(r"^([^@\s]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$")


def address_of(url: str) -> str | None:
    """The one recipient of an Apprise email URL as alerts.channels.mail_url made it, else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("mailto", "mailtos"):
        return None
    query = parse_qs(parts.query)
    to = query.get("to", [])
    if len(to) != 1 or not query.get("smtp") or not query.get("from") or "," in to[0]:
        return None
    return to[0] if _ADDRESS.match(to[0]) else None


def upgrade() -> None:
    conn = op.get_bind()
    channel, consent = (
        sa.table(
            "subscription_channel",
            sa.column("id", sa.Integer),
            sa.column("subscription_id", sa.Integer),
            sa.column("url", sa.Text),
            sa.column("url_masked", sa.Text),
            sa.column("service", sa.String),
        ),
        sa.table("subscription_consent", sa.column("subscription_id", sa.Integer)),
    )
    rows = conn.execute(
        sa.select(channel.c.id, channel.c.url).where(
            channel.c.service.in_(("mailto", "mailtos")),
            channel.c.subscription_id.in_(sa.select(consent.c.subscription_id)),
        )
    ).all()
    for cid, url in rows:
        address = address_of(url)
        if address is None:
            continue
        local, domain = _ADDRESS.match(address).groups()  # type: ignore[union-attr]
        conn.execute(
            sa.update(channel)
            .where(channel.c.id == cid)
            .values(url=SERVICE_MAIL + address, url_masked=f"{SERVICE_MAIL}{local[0]}****@{domain}")
        )


def downgrade() -> None:
    """Nothing to undo in the schema; the credentials cannot come back (see above)."""
