"""The service secret: the key of the signed links in messages and of the keyed hashes (IP addresses, rate-limit
keys) stored about subscribers.

Why here: it must be the same for every process of one installation (the web site signs a link, the sender
puts it in a message, the web site checks it later), so it lives beside the data. `PROMOWATCH_SECRET_KEY` wins
(several hosts on one PostgreSQL database set the same value); otherwise a random key is made once and kept
in `secret.key`, mode 0600, beside the SQLite database (or in the user's data folder for another database).
The key is never logged or shown.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from storage.engine import database_url, sqlite_file
from storage.environment import setting

FILE_NAME = "secret.key"


def secret_file(url: str | None = None) -> Path:
    """Where the generated key is kept for the database `url` (default: PROMOWATCH_DATABASE_URL's)."""
    file = sqlite_file(database_url(url))
    if file is not None:
        return file.parent / FILE_NAME
    from platformdirs import user_data_dir

    return Path(user_data_dir("promowatch", appauthor=False)) / FILE_NAME


def service_secret(url: str | None = None) -> bytes:
    """PROMOWATCH_SECRET_KEY, else the key kept beside the data (made on first use, 0600)."""
    configured = setting("PROMOWATCH_SECRET_KEY")
    if configured:
        return configured.encode("utf-8")
    path = secret_file(url)
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48).encode("ascii")
    try:  # O_EXCL: when two processes make it at once, the first one's key stands and the other reads it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(key + b"\n")
    return key


def keyed_hash(text: str, purpose: str, url: str | None = None) -> str:
    """HMAC-SHA256 of `text` under the service secret, separated by `purpose` ("ip", "channel"); hex."""
    return hmac.new(service_secret(url), f"{purpose}\0{text}".encode(), hashlib.sha256).hexdigest()
