"""Institutional API-access onboarding: the application factory.

The composition root: the only module that knows every part. It builds the app from named
`register_*` steps; no part imports it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

# Importing every part's models registers its tables on the metadata (Alembic and tests need them all).
from . import jobs as _jobs  # noqa: F401
from .accounts import models as _accounts  # noqa: F401
from .accounts.models import STAFF_ROLES
from .accounts.routes import bp as accounts_bp
from .admin import rules_routes as _admin_rules_routes  # noqa: F401  (routes on the admin blueprint)
from .admin import token_routes as _admin_token_routes  # noqa: F401  (routes on the admin blueprint)
from .admin.routes import bp as admin_bp
from .agreements import models as _agreements  # noqa: F401
from .api import models as _api  # noqa: F401
from .api.routes import bp as api_bp
from .applications import models as _applications  # noqa: F401
from .applications import ownership_routes as _ownership_routes  # noqa: F401  (routes on the applications blueprint)
from .applications import steps as _step_routes  # noqa: F401  (routes on the applications blueprint)
from .applications.pages import bp as applications_bp
from .audit import models as _audit  # noqa: F401
from .audit.routes import bp as audit_bp
from .checks import models as _checks  # noqa: F401
from .checks.upload import register_upload_checks
from .cli import register_cli
from .config import build
from .dashboard.routes import bp as dashboard_bp
from .db import db
from .documents import models as _documents  # noqa: F401
from .documents.completeness import register_document_rules
from .documents.routes import bp as documents_bp
from .enforcement import models as _enforcement  # noqa: F401
from .enforcement.routes import bp as enforcement_bp
from .errors import register_error_handlers as _register_error_handlers
from .extensions import csrf, login_manager, migrate
from .health import bp as health_bp
from .home import bp as home_bp
from .institutions import models as _institutions  # noqa: F401
from .institutions.status import STATUS_LABELS as INSTITUTION_STATUS_LABELS
from .keys import models as _keys  # noqa: F401
from .keys.routes import bp as keys_bp
from .letters import models as _letters  # noqa: F401
from .letters.routes import bp as letters_bp
from .metrics import bp as metrics_bp
from .notifications import models as _notifications  # noqa: F401
from .paths import ROOT
from .portal.routes import bp as portal_bp
from .referrals.operations import register_referral_rules
from .referrals.routes import bp as referrals_bp
from .review import models as _review  # noqa: F401
from .review.decision_routes import bp as decisions_bp
from .review.routes import bp as review_bp
from .review.rules import register_review_rules
from .screening import models as _screening  # noqa: F401
from .screening.routes import bp as sanctions_bp
from .security import init_keyring, register_input_guard, register_machine_api_sessions, register_security_headers
from .templating import register_template_helpers as _register_template_helpers

__all__ = ["ROOT", "create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application. `config` overrides values read from the environment."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    load_config(app, config)
    register_extensions(app)
    register_part_rules()
    register_blueprints(app)
    register_error_handlers(app)
    register_security(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    app.config.update(build(overrides, app.instance_path))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["TRUST_PROXY_HOPS"]:
        hops = app.config["TRUST_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("onboarding").setLevel(logging.INFO)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True, render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"


def register_part_rules() -> None:
    """Higher parts plug their guards, effects and step checks into the lower parts' tables (the lower
    parts never import them). Registering again replaces, so building several apps is harmless."""
    register_document_rules()
    register_upload_checks()
    register_review_rules()
    register_referral_rules()


def register_blueprints(app: Flask) -> None:
    for blueprint in (home_bp, accounts_bp, applications_bp, documents_bp, portal_bp, review_bp, decisions_bp,
                      letters_bp, keys_bp, referrals_bp, enforcement_bp, dashboard_bp, admin_bp, audit_bp, health_bp,
                      api_bp, metrics_bp, sanctions_bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api_bp)  # machine callers: a bearer service token, no cookies


def register_error_handlers(app: Flask) -> None:
    _register_error_handlers(app)


def register_security(app: Flask) -> None:
    init_keyring(app)
    register_input_guard(app)
    register_security_headers(app)
    register_machine_api_sessions(app)


def register_template_helpers(app: Flask) -> None:
    _register_template_helpers(app, role_labels=STAFF_ROLES, institution_status_labels=INSTITUTION_STATUS_LABELS)


def register_commands(app: Flask) -> None:
    register_cli(app)
