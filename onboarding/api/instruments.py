"""What the authorize endpoint measures about itself for Prometheus (served by the metrics part).

Counted per process; with PROMETHEUS_MULTIPROC_DIR set (gunicorn with several workers) prometheus_client
keeps them in shared files so one scrape sees every worker."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

AUTHORIZE_DECISIONS = Counter("onboarding_authorize_decisions", "Authorize answers, by reason.", ["reason"])
# Server time of POST /api/v1/authorize, from the token check to the JSON answer. The buckets are fine at
# the low end: the gateway waits for this on every trading request.
AUTHORIZE_SECONDS = Histogram(
    "onboarding_authorize_seconds", "Server time of POST /api/v1/authorize.",
    buckets=(0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))


_answers_by_reason: dict = {}


def count_answer(reason: str) -> None:
    """One authorize answer counted under its reason (the labelled child is looked up once per reason)."""
    counter = _answers_by_reason.get(reason)
    if counter is None:
        counter = _answers_by_reason[reason] = AUTHORIZE_DECISIONS.labels(reason)
    counter.inc()
