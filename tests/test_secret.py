"""The service secret (storage/secret.py): made once beside the database, mode 0600, the same for every process
of the installation; PROMOWATCH_SECRET_KEY wins; never shown, not even when its value is refused."""

import stat
import subprocess
import sys

import pytest
from conftest import ROOT

from storage.environment import BadEnvironment, check_environment
from storage.secret import keyed_hash, secret_file, service_secret


def test_made_once_beside_the_database_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMOWATCH_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'promowatch.db'}"
    key = service_secret(url)
    path = secret_file(url)
    assert path == tmp_path / "secret.key" and len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert service_secret(url) == key
    code = f"from storage.secret import service_secret; print(service_secret({url!r}).decode())"
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert other.stdout.strip() == key.decode()  # another process of the installation reads the same key
    assert keyed_hash("203.0.113.1", "ip", url) == keyed_hash("203.0.113.1", "ip", url)
    assert keyed_hash("203.0.113.1", "ip", url) != keyed_hash("203.0.113.1", "rate:x", url)


def test_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMOWATCH_SECRET_KEY", "k" * 40)
    url = f"sqlite:///{tmp_path / 'promowatch.db'}"
    assert service_secret(url) == b"k" * 40
    assert not secret_file(url).exists()


def test_a_refused_key_is_not_shown():
    with pytest.raises(BadEnvironment) as exc:
        check_environment({"PROMOWATCH_SECRET_KEY": "tooShortSecret"})
    assert "tooShortSecret" not in str(exc.value)
    assert str(exc.value).startswith("PROMOWATCH_SECRET_KEY='****': a random text of at least 32 characters")


@pytest.mark.parametrize("value", ["ftp://x.org", "https://", "https://a.org/?q=1", "deals.example.org"])
def test_the_base_url_must_be_a_site_address(value):
    with pytest.raises(BadEnvironment, match="PROMOWATCH_BASE_URL="):
        check_environment({"PROMOWATCH_BASE_URL": value})
    check_environment({"PROMOWATCH_BASE_URL": "https://deals.example.org/pw/"})
