"""The language a new subscription's messages are written in (issue 18): on the web, the language of the page the
form was sent from when the form names none; on the command line, `subscribe` says which language its messages
will be in, whether it was the default, and how to choose or change it.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from alerts.channels import ChannelSettings, MailSettings
from storage.engine import get_engine
from storage.models import Subscription
from web.app import create_app

SETTINGS = ChannelSettings(
    allowed=("email",),
    mail=MailSettings(host="127.0.0.1", port=2525, sender="alerts@example.org", mode="insecure"),
)


def stored_langs(url: str) -> list[str]:
    with Session(get_engine(url)) as s:
        return list(s.scalars(select(Subscription.lang).order_by(Subscription.id)))


@pytest.mark.parametrize("page_lang", ["en", "zh", "it"])
def test_a_web_form_without_a_language_gets_the_pages(tmp_db, page_lang):
    with TestClient(create_app(tmp_db, config={"channels": SETTINGS, "base_url": "http://testserver"})) as client:
        page = client.get("/subscribe", headers={"Accept-Language": page_lang})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        data = {"csrf_token": token, "channel_kind": "email", "channel_value": "anna@example.com"}  # no "lang"
        answer = client.post("/subscribe", data=data, headers={"Accept-Language": page_lang})
    assert answer.status_code == 200, answer.text
    assert stored_langs(tmp_db) == [page_lang]


def run(*args):
    from promowatch.cli import app

    return CliRunner().invoke(app, list(args))


def test_subscribe_names_the_language_and_how_to_change_it(tmp_db, monkeypatch):
    monkeypatch.setenv("PROMOWATCH_DATABASE_URL", tmp_db)
    assert run("db", "upgrade").exit_code == 0
    default = run("subscribe", "--channel", "json://127.0.0.1:9/a")
    chosen = run("subscribe", "--channel", "json://127.0.0.1:9/b", "--lang", "en")
    assert default.exit_code == chosen.exit_code == 0, default.output + chosen.output
    flat = lambda out: " ".join(out.split())  # noqa: E731  (the console wraps long lines)
    assert "messages in Italian (the default, --lang it); for another language: --lang en or --lang zh" in flat(
        default.output
    )
    assert "messages in English (--lang en); for another language: --lang it or --lang zh" in flat(chosen.output)
    assert "manage page linked at the end of every message" in flat(chosen.output)
    assert stored_langs(tmp_db) == ["it", "en"]
    assert run("subscribe", "--channel", "json://127.0.0.1:9/c", "--lang", "fr").exit_code == 2  # refused, one line
    assert stored_langs(tmp_db) == ["it", "en"]
