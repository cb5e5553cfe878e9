"""Service tokens from the console: the same records and functions as `flask service-token`."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from ..api.models import SERVICE_SCOPES, ServiceToken
from ..api.tokens import create_service_token, revoke_service_token, service_tokens
from ..db import db
from ..errors import OperationRefused
from .forms import DangerForm, TokenForm
from .routes import admin_required, bp, field_error


def _tokens_page(form: TokenForm | None = None, revoke_form: DangerForm | None = None, revoking: int | None = None,
                 created: tuple[ServiceToken, str] | None = None, status: int = 200):
    return render_template("admin/tokens.html", tokens=service_tokens(), form=form or TokenForm(formdata=None),
                           revoke_form=revoke_form or DangerForm(formdata=None), revoking=revoking,
                           created=created, scope_labels=SERVICE_SCOPES), status


@bp.route("/tokens")
@admin_required
def tokens():
    return _tokens_page()


@bp.route("/tokens", methods=["POST"])
@admin_required
def create_token():
    form = TokenForm()
    if form.validate_on_submit():
        try:
            token, plaintext = create_service_token(form.name.data, form.scopes.data, created_by=current_user.email)
        except OperationRefused as error:
            db.session.rollback()
            field_error(form, error)
        else:
            db.session.commit()
            # Shown in this response only (pages are never cached: Cache-Control no-store); stored hashed.
            return _tokens_page(created=(token, plaintext))
    return _tokens_page(form=form, status=400)


@bp.route("/tokens/<int(max=2147483647):token_id>/revoke", methods=["POST"])
@admin_required
def revoke_token(token_id: int):
    token = db.session.get(ServiceToken, token_id)
    if token is None:
        abort(404)
    form = DangerForm()
    if form.validate_on_submit():
        try:
            revoke_service_token(token, by=current_user.email)
        except OperationRefused as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("admin.tokens"))
        db.session.commit()
        flash(f"Service token {token.public_id} ({token.name}) is revoked: calls with it are refused from now on.",
              "success")
        return redirect(url_for("admin.tokens"))
    return _tokens_page(revoke_form=form, revoking=token.id, status=400)
