"""/metrics for Prometheus: the authorize endpoint's own counters and latency, and the state of the work
(jobs, review and compliance queues, screening hits) read from the database at each scrape."""

from .routes import bp

__all__ = ["bp"]
