"""`/metrics` for Prometheus: the service's figures (storage/figures.py) and this web process's own requests.

The service's figures are read from the database at each scrape by a custom collector, not kept as counters
here: crawls, sends and failures happen in other processes (the crawl worker, `promowatch send`), and the
database is where all of them write. Each app has its own registry, so several apps in one process (tests)
do not share counters. The web process's requests are counted by a plain ASGI middleware per route template
(`/offers/{operator}/{offer_key:path}`, not every offer's path), so the series stay few.

Several worker processes (`promowatch web --workers N`): a scrape reaches one worker, so the request counters
use prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the CLI before the workers start:
each worker writes its counts to files there, MultiProcessCollector adds them up at a scrape). The counters are
then registered nowhere (the collector reads them from the files: registered they would count twice), and the
figures, read from the database, stay one collector of the scrape's registry: once, not once per worker.
"""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from contract.clock import utcnow
from storage.figures import figures

router = APIRouter(include_in_schema=False)
#: upper bounds (seconds) of the web requests' latency histogram
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: prometheus_client's multiprocess folder, read when prometheus_client is (first imported here, by the site):
#: set, the request counters of every worker process are added up at a scrape
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class FiguresCollector(Collector):
    """The figures of storage.figures as Prometheus metric families, read afresh at every scrape."""

    def __init__(self, database_url: str | None):
        self.database_url = database_url

    def collect(self):
        now = utcnow()
        f = figures(self.database_url, now=now)
        crawls = CounterMetricFamily(
            "promowatch_crawls", "Crawls stored, by operator and status", labels=["operator", "status"]
        )
        for (operator, status), n in sorted(f.crawls.items()):
            crawls.add_metric([operator, status], n)
        yield crawls
        for name, text, moments in (
            ("promowatch_last_crawl_age_seconds", "Seconds since the operator's latest crawl ended", f.last_crawl_at),
            (
                "promowatch_last_healthy_crawl_age_seconds",
                "Seconds since its latest healthy crawl ended",
                f.last_healthy_at,
            ),
        ):
            ages = GaugeMetricFamily(name, text, labels=["operator"])
            for operator, moment in sorted(moments.items()):
                ages.add_metric([operator], (now - moment).total_seconds())
            yield ages
        yield _gauge("promowatch_offers", "Offers on offer now (active), by operator", "operator", f.offers)
        yield _counter("promowatch_events", "Change events detected, by kind", "kind", f.events)
        yield _gauge("promowatch_outbox_notifications", "Notifications in the outbox, by status", "status", f.outbox)
        yield _counter("promowatch_notifications_sent", "Notifications sent, by channel service", "service", f.sent)
        yield _counter(
            "promowatch_notification_failures", "Failed tries to send, by channel service", "service", f.failures
        )
        yield _gauge("promowatch_notifications_dead", "Notifications given up, by channel service", "service", f.dead)
        yield _gauge("promowatch_subscriptions", "Subscriptions, by status", "status", f.subscribers)
        histogram = f.latency_histogram()
        latency = HistogramMetricFamily(
            "promowatch_alert_latency_seconds",
            "Seconds from an alert queued (its event detected) to sent, of the immediate alerts sent in the last 24 h",
        )
        latency.add_metric(
            [], [("+Inf" if b == float("inf") else repr(b), n) for b, n in histogram], sum_value=sum(f.latency)
        )
        yield latency


def _gauge(name: str, text: str, label: str, values: dict) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=[label])
    for key, n in sorted(values.items()):
        family.add_metric([str(key)], n)
    return family


def _counter(name: str, text: str, label: str, values: dict) -> CounterMetricFamily:
    family = CounterMetricFamily(name, text, labels=[label])
    for key, n in sorted(values.items()):
        family.add_metric([str(key)], n)
    return family


def registry(database_url: str | None) -> CollectorRegistry:
    """A registry of the figures on `database_url` and of the site's requests (RequestMetrics counts them): this
    process's, or every worker's through the multiprocess folder."""
    reg = CollectorRegistry()
    reg.register(FiguresCollector(database_url))
    if MULTIPROC_DIR:
        multiprocess.MultiProcessCollector(reg, path=MULTIPROC_DIR)
    return reg


class RequestMetrics:
    """Counts the site's requests and their latency per route template, method and status code."""

    def __init__(self, app, registry: CollectorRegistry):
        self.app = app
        counted_in = None if MULTIPROC_DIR else registry  # multiprocess: the collector reads the workers' files
        self.requests = Counter(
            "promowatch_web_requests",
            "Requests answered by the site (every worker process)",
            ["route", "method", "code"],
            registry=counted_in,
        )
        self.latency = Histogram(
            "promowatch_web_request_duration_seconds",
            "Seconds to answer a request (every worker process)",
            ["route", "method"],
            buckets=REQUEST_BUCKETS,
            registry=counted_in,
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, code = time.perf_counter(), [500]

        async def send_and_note(message):
            if message["type"] == "http.response.start":
                code[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None) or "other"
            self.requests.labels(route, scope["method"], str(code[0])).inc()
            self.latency.labels(route, scope["method"]).observe(time.perf_counter() - start)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
