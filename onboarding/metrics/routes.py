"""GET /metrics, for a Prometheus scraper on an allowed network (METRICS_ALLOWED_NETWORKS, loopback by
default) or presenting a service token with the `metrics:read` scope."""

from __future__ import annotations

import os

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ..api.auth import check_service_token
from ..api.errors import json_error
from ..ipaddresses import address_allowed
from .state import WorkStateCollector, read_work_state

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    if request.headers.get("Authorization"):
        refused = check_service_token("metrics:read")
        if refused is not None:
            return refused
    elif not address_allowed(request.remote_addr or "", current_app.config["METRICS_ALLOWED_NETWORKS"]):
        return json_error(403, "metrics_forbidden", "Scrape from an allowed network (METRICS_ALLOWED_NETWORKS) or "
                                                    "send a service token with the “metrics:read” scope.")
    registry = CollectorRegistry()
    registry.register(WorkStateCollector(read_work_state()))
    body = generate_latest(registry)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several gunicorn workers: each writes its counters to shared files; read them all.
        combined = CollectorRegistry()
        MultiProcessCollector(combined)
        body += generate_latest(combined)
    else:
        body += generate_latest(REGISTRY)
    return Response(body, content_type=CONTENT_TYPE_LATEST)
