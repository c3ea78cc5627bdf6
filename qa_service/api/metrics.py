"""Prometheus metrics: request counts and latency per route, index size and version."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """One registry per app, so several apps (tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "qa_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "qa_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.documents = Gauge("qa_index_documents", "Reports in the index", registry=self.registry)
        self.passages = Gauge("qa_index_passages", "Passages in the index", registry=self.registry)
        self.version = Gauge(
            "qa_index_info",
            "The loaded index generation (value 1)",
            ["version"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def set_index(self, version: str, documents: int, passages: int) -> None:
        """Record the loaded index."""
        self.version.clear()
        self.version.labels(version).set(1)
        self.documents.set(documents)
        self.passages.set(passages)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
