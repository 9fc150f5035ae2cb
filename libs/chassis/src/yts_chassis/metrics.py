"""Prometheus metrics shared by every service (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "yts_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "yts_http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"]
)
OUTBOX_PENDING = Gauge("yts_outbox_pending", "events waiting in the outbox", ["service"])
OUTBOX_PUBLISHED = Counter("yts_outbox_published_total", "events published", ["service"])
OUTBOX_PUBLISH_FAILURES = Counter(
    "yts_outbox_publish_failures_total", "failed publish rounds (NATS away)", ["service"]
)
EVENTS_HANDLED = Counter(
    "yts_events_handled_total",
    "events taken from a consumer, by outcome (applied, duplicate, ignored, dead_lettered, "
    "retried)",
    ["service", "consumer", "outcome"],
)
EVENT_BATCH_SECONDS = Histogram(
    "yts_event_batch_seconds", "time to apply one batch of events", ["service", "consumer"]
)
EVENTS_REDELIVERED_PAST_LIMIT = Counter(
    "yts_events_redelivered_past_limit_total",
    "deliveries of an event that had already been delivered max_handler_attempts times "
    "(a long transient outage, or a message that keeps failing unseen)",
    ["service", "consumer"],
)
