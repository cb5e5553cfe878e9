"""Publishing a rule version from the console: paste or upload, preview (rendered as institutions see it,
and a line diff against the current version), then publish with the same function as `flask rules publish`."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..agreements.models import RULE_KINDS, RuleVersion
from ..agreements.operations import current_rules, publish_rules, text_digest
from ..db import db
from ..errors import OperationRefused
from .forms import RulesForm
from .routes import admin_required, bp, field_error
from .rules import active_institution_count, line_diff, normalised, not_agreed_to_current, versions_of

MIN_RULES_CHARACTERS = 50  # agreements.publish_rules refuses shorter texts; said here at the field first


def _rules_page(form: RulesForm | None = None, status: int = 200):
    if form is None:
        form = RulesForm(formdata=None)
        form.kind.data = request.args.get("kind") if request.args.get("kind") in RULE_KINDS else None
        current = current_rules(form.kind.data) if form.kind.data else None
        if current is not None:  # "Start from the current version": change a line, not retype the document
            form.text.data = current.text
    kinds = [{"kind": kind, "label": label, "versions": versions_of(kind), "missing": not_agreed_to_current(kind)}
             for kind, label in RULE_KINDS.items()]
    return render_template("admin/rules.html", form=form, kinds=kinds,
                           active_institutions=active_institution_count()), status


def _checked_text(form: RulesForm) -> str | None:
    """The text to publish, or None with the reason at its field. Nothing is saved here."""
    if not form.validate_on_submit():
        form.rules_text()  # still say what is wrong with the text, alongside the other fields
        return None
    text = form.rules_text()
    if text is None:
        return None
    text = normalised(text)
    if len(text.strip()) < MIN_RULES_CHARACTERS:
        form.text.errors = [f"The text is too short to be a rule document (at least {MIN_RULES_CHARACTERS} "
                            "characters)."]
        return None
    kind, version = form.kind.data, form.version.data.strip()
    current = current_rules(kind)
    if current is not None and current.sha256 == text_digest(text):
        form.text.errors = [f"This is the same text as the current version {current.version}: change the text, "
                            "or there is nothing to publish."]
        return None
    if db.session.scalar(select(RuleVersion.id).where(RuleVersion.kind == kind, RuleVersion.version == version)):
        form.version.errors = [f"Version {version} of the {RULE_KINDS[kind]} is already published: choose a new "
                               "version name."]
        return None
    return text


@bp.route("/rules")
@admin_required
def rules():
    return _rules_page()


@bp.route("/rules/preview", methods=["POST"])
@admin_required
def preview_rules():
    form = RulesForm()
    text = _checked_text(form)
    if text is None:
        return _rules_page(form, status=400)
    return _preview_page(form, text)


def _preview_page(form: RulesForm, text: str, status: int = 200):
    current = current_rules(form.kind.data)
    form.text.data = text
    form.base_id.data = str(current.id) if current else ""
    return render_template(
        "admin/rules_preview.html", form=form, text=text, current=current, kind_label=RULE_KINDS[form.kind.data],
        diff=line_diff(current.text if current else "", text), active_institutions=active_institution_count()), status


@bp.route("/rules/edit", methods=["POST"])
@admin_required
def edit_rules():
    """Back from the preview to the form, with what was typed."""
    form = RulesForm()
    form.validate_on_submit()
    form.version.errors = form.text.errors = form.kind.errors = []
    return _rules_page(form)


@bp.route("/rules/publish", methods=["POST"])
@admin_required
def publish():
    form = RulesForm()
    text = _checked_text(form)
    if text is None:
        return _rules_page(form, status=400)
    current = current_rules(form.kind.data)
    if (str(current.id) if current else "") != (form.base_id.data or ""):
        form.form_errors.append(f"Someone published version {current.version} while you were previewing: the "
                                "diff below is now against it. Check it, then publish.")
        return _preview_page(form, text, status=409)
    try:
        published, _ = publish_rules(form.kind.data, form.version.data, text, published_by=current_user.email)
    except OperationRefused as error:
        db.session.rollback()
        field_error(form, error, "text")
        return _rules_page(form, status=400)
    db.session.commit()
    waiting = len(not_agreed_to_current(published.kind))
    flash(f"{published.title} is published. {waiting} active institution{'' if waiting == 1 else 's'} must agree to "
          "it before creating API keys.", "success")
    return redirect(url_for("admin.rules", _anchor=published.kind))
