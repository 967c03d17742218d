"""Email at volume: what Apprise's SMTP connection per message costs, against a real aiosmtpd server on 127.0.0.1.

Apprise's email plugin opens an SMTP connection (connect, EHLO, MAIL, RCPT, DATA, QUIT) for every notify();
a subscriber's channel is a mailto:// URL of its own, with its own unsubscribe headers and footer, so promowatch
sends one notify() per message. Measured here, in one run, the same HTML+text messages:
- apprise: `alerts.deliver.deliver` (what the sender does per row), one message after the other;
- smtplib, new connection per message: the SMTP conversation alone, as Apprise has it;
- smtplib, one connection reused: the floor a kept-open connection would give;
- apprise again with no CA bundle file for OpenSSL to parse: what Apprise's `ssl.create_default_context()` per
  SMTP connection (made even for plain SMTP) costs.
The server (aiosmtpd, tests/servers.py) runs in its own process. Figures: messages/s and CPU ms per message of
the sending process. Run: python benchmarks/bench_email.py [--n 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import smtplib
import subprocess
import sys
import time
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

_SERVER = """
import sys
sys.path.insert(0, {tests!r})
from servers import SmtpServer
with SmtpServer() as smtp:
    print(smtp.port, flush=True)
    sys.stdin.read()
    print(len(smtp.received), flush=True)
"""


@contextmanager
def smtp_server():
    """aiosmtpd in a child process: yields (port, a function giving how many messages it received at the end)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER.format(tests=str(ROOT / "tests"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    received: list[int] = []
    try:
        if not select.select([proc.stdout], [], [], 30)[0]:
            raise SystemExit("the SMTP server did not start within 30 s")
        yield int(proc.stdout.readline()), received
    finally:
        proc.stdin.close()
        line = proc.stdout.readline() if select.select([proc.stdout], [], [], 30)[0] else ""
        received.append(int(line) if line.strip() else -1)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def messages(n: int) -> list[tuple[str, str, str]]:
    """(title, text body, HTML body) of a price drop in each language, as the sender renders them."""
    from datetime import datetime, timezone

    from alerts.render import Message, render_event, render_html
    from contract.offer import normalise

    item = normalise(
        {
            "operator": "iliad",
            "offer_key": "giga-150",
            "name": "Giga 150",
            "plan_type": "prepaid",
            "url": "https://example.it/giga",
            "price_cents": 799,
            "period_days": 30,
            "data_gb": 150,
        }
    )
    at = datetime.now(timezone.utc).isoformat()
    event = {
        "id": 1,
        "operator": "iliad",
        "offer_key": "giga-150",
        "kind": "price_drop",
        "created_at": at,
        "price_before": 999,
        "price_after": 799,
        "changes": {},
        "item": item,
    }
    out = []
    for i in range(n):
        lang = ("it", "en", "zh")[i % 3]
        footer = {"manage": f"https://example.it/m/{i}", "unsubscribe": f"https://example.it/u/{i}"}
        m = render_event(event, lang, footer=footer)
        out.append((m.title, m.body, render_html(Message(m.title, m.body), lang, event)))
    return out


def timed(run) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of `run()`."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from alerts.deliver import Policy, deliver

    mails = messages(args.n)
    results = {}
    with smtp_server() as (port, received):
        url = f"mailto://127.0.0.1:{port}?from=alerts@example.com&to=subscriber{{i}}@example.com&mode=insecure"
        deliver(url.format(i="warm"), "warm-up", "<p>warm-up</p>", html=True)  # plugin loading paid by nobody

        def apprise_each() -> None:
            for i, (title, _, html) in enumerate(mails):
                outcome = deliver(url.format(i=i), title, html, policy=Policy(), html=True)
                if not outcome.ok:
                    raise SystemExit(f"Apprise failed: {outcome.error}")

        def build(i: int, title: str, text: str, html: str) -> EmailMessage:
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "alerts@example.com", f"subscriber{i}@example.com", title
            msg.set_content(text)
            msg.add_alternative(html, subtype="html")
            return msg

        def smtplib_each() -> None:
            for i, (title, text, html) in enumerate(mails):
                with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
                    smtp.send_message(build(i, title, text, html))

        def smtplib_reused() -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
                for i, (title, text, html) in enumerate(mails):
                    smtp.send_message(build(i, title, text, html))

        def apprise_without_bundle() -> None:
            """The same, with OpenSSL finding no CA bundle file (certificates looked up lazily in SSL_CERT_DIR):
            Apprise builds `ssl.create_default_context()` for every SMTP connection, TLS or not, and with a
            bundle file (SSL_CERT_FILE, or OpenSSL's default cert.pem) that parses the whole bundle each time."""
            saved = os.environ.get("SSL_CERT_FILE")
            os.environ["SSL_CERT_FILE"] = os.devnull + ".none"
            try:
                apprise_each()
            finally:
                os.environ.pop("SSL_CERT_FILE")
                if saved is not None:
                    os.environ["SSL_CERT_FILE"] = saved

        for name, run in (
            ("apprise, connection per message", apprise_each),
            ("apprise, no CA bundle file parsed", apprise_without_bundle),
            ("smtplib, connection per message", smtplib_each),
            ("smtplib, one connection reused", smtplib_reused),
        ):
            wall, cpu = timed(run)
            results[name] = {"per_s": round(args.n / wall, 1), "cpu_ms_per_message": round(cpu / args.n * 1000, 2)}
    expected = 4 * args.n + 1
    if received[0] != expected:
        raise SystemExit(f"the server received {received[0]} messages, expected {expected}")
    connection = (
        results["smtplib, connection per message"]["cpu_ms_per_message"]
        - results["smtplib, one connection reused"]["cpu_ms_per_message"]
    )
    share = connection / results["apprise, connection per message"]["cpu_ms_per_message"]
    results["connection_share_of_apprise_cpu"] = round(share, 3)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.n} emails (HTML + text, it/en/zh) to aiosmtpd on 127.0.0.1 (its own process)")
    for name, r in results.items():
        if isinstance(r, dict):
            print(f"  {name:34} {r['per_s']:7.1f} messages/s  {r['cpu_ms_per_message']:6.2f} ms CPU/message")
    print(f"  a new SMTP connection per message costs {connection:.2f} ms CPU: {share:.0%} of Apprise's per message")
    bundle = (
        results["apprise, connection per message"]["cpu_ms_per_message"]
        - results["apprise, no CA bundle file parsed"]["cpu_ms_per_message"]
    )
    print(f"  Apprise's per-connection SSL context (CA bundle parsed) costs {bundle:.2f} ms CPU per message")


if __name__ == "__main__":
    main()
