"""``/metrics`` in Prometheus' text format: jobs by state and the queue's length (read from the
store at each scrape), seconds per stage and failures (counted as jobs end)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from ..batch.worker import RowOutcome
from .jobs import JobStore

STAGE_BUCKETS_S = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, float("inf"))


class _QueueCollector:
    def __init__(self, store: JobStore):
        self.store = store

    def collect(self):
        counts = self.store.counts()
        jobs = GaugeMetricFamily("hairedit_jobs", "Jobs in the store, by state.", labels=["state"])
        for state, count in counts.items():
            jobs.add_metric([state], count)
        yield jobs
        yield GaugeMetricFamily("hairedit_queue_length", "Jobs waiting for a worker.", value=counts["queued"])


class Metrics:
    def __init__(self, store: JobStore):
        self.registry = CollectorRegistry()
        self.registry.register(_QueueCollector(store))
        self.stage_seconds = Histogram("hairedit_stage_seconds", "Seconds per edit stage.", ["stage"],
                                       buckets=STAGE_BUCKETS_S, registry=self.registry)
        self.failures = Counter("hairedit_failures", "Edits that failed.", registry=self.registry)

    def observe(self, outcome: RowOutcome) -> None:
        if outcome.status == "failed":
            self.failures.inc()
        for stage, seconds in outcome.timings.items():
            self.stage_seconds.labels(stage).observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)
