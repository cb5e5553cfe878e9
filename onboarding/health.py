"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy import text

from .db import db
from .jobs import redis_connection

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    return {"status": "ok"}


@bp.route("/readyz")
def readyz():
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        current_app.logger.warning("readiness: database unreachable: %s", exc)
        checks["database"] = "unreachable"
    finally:
        db.session.rollback()
    if current_app.config.get("REDIS_URL") and not current_app.config.get("JOBS_EAGER"):
        try:
            redis_connection().ping()
            checks["redis"] = "ok"
        except Exception as exc:
            current_app.logger.warning("readiness: redis unreachable: %s", exc)
            checks["redis"] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
