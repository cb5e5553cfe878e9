"""Institutional API-access onboarding: the application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


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
    register_blueprints(app)
    register_error_handlers(app)
    register_security(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    from .config import build

    app.config.update(build(overrides, app.instance_path))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["TRUST_PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUST_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("onboarding").setLevel(logging.INFO)


def register_extensions(app: Flask) -> None:
    from .db import db
    from .extensions import csrf, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True, render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    # Importing the models registers every table on the metadata (Alembic and tests need them all).
    from . import jobs as _jobs  # noqa: F401
    from .accounts import models as _accounts  # noqa: F401
    from .agreements import models as _agreements  # noqa: F401
    from .applications import models as _applications  # noqa: F401
    from .audit import models as _audit  # noqa: F401
    from .checks import models as _checks  # noqa: F401
    from .documents import models as _documents  # noqa: F401
    from .letters import models as _letters  # noqa: F401
    from .notifications import models as _notifications  # noqa: F401
    from .review import models as _review  # noqa: F401
    from .screening import models as _screening  # noqa: F401


def register_blueprints(app: Flask) -> None:
    from .accounts.routes import bp as accounts_bp
    from .applications.routes import bp as applications_bp
    from .audit.routes import bp as audit_bp
    from .dashboard.routes import bp as dashboard_bp
    from .documents.routes import bp as documents_bp
    from .health import bp as health_bp
    from .home import bp as home_bp
    from .letters.routes import bp as letters_bp
    from .review.decisions import bp as decisions_bp
    from .review.routes import bp as review_bp

    for blueprint in (home_bp, accounts_bp, applications_bp, documents_bp, review_bp, decisions_bp, letters_bp,
                      dashboard_bp, audit_bp, health_bp):
        app.register_blueprint(blueprint)


def register_error_handlers(app: Flask) -> None:
    from .errors import register_error_handlers as register

    register(app)


def register_security(app: Flask) -> None:
    from .security import init_keyring, register_security_headers

    init_keyring(app)
    register_security_headers(app)


def register_template_helpers(app: Flask) -> None:
    from .templating import register_template_helpers as register

    register(app)


def register_commands(app: Flask) -> None:
    from .cli import register_cli

    register_cli(app)
