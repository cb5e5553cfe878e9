"""The institution's keys page (create, rotate, revoke, agree to newer rules) and the staff view of an
institution's keys with their recent decisions."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..agreements.models import API_USAGE
from ..agreements.operations import current_rules, has_agreed_to_current, record_agreement
from ..applications.pages import show_refusal
from ..db import db
from ..errors import OperationRefused
from ..forms import choices
from ..institutions.access import SCOPES
from ..institutions.allowlist import decide_allowlist_change, pending_change, pending_changes, request_allowlist_change
from ..institutions.models import AllowlistChange, Institution
from ..institutions.queries import current_grant
from ..security import applicant_required, client_ip, roles_required
from .forms import AgreeForm, AllowlistChangeForm, AllowlistDecisionForm, KeyForm, RevokeForm, RotateForm
from .models import ED25519, KINDS, STATUS_LABELS
from .operations import create_key, live_key_count, may_create_keys, revoke_key, rotate_key
from .queries import history_of, key_of, keys_of, last_ips, recent_decisions
from .status import LIVE

bp = Blueprint("keys", __name__)

# Staff who may revoke an institution's key (every staff member may see them), and who decide on a
# change of the granted IP addresses (the business team grants access).
REVOKING_ROLES = ("compliance", "admin")
ALLOWLIST_DECIDING_ROLES = ("qualification_reviewer", "compliance", "admin")


def _institution() -> Institution:
    return db.session.get(Institution, current_user.institution_id)


def _key_form(grant) -> KeyForm:
    form = KeyForm()
    form.scopes.choices = choices((code, label) for code, label in SCOPES.items() if grant and code in grant.scopes)
    return form


def _show(institution: Institution, *, key_form=None, agree_form=None, change_form=None, status: int = 200):
    grant, problem = may_create_keys(institution)
    keys = keys_of(institution.id)
    rules = current_rules(API_USAGE)
    agree_form = agree_form or AgreeForm(formdata=None)
    if rules is not None:
        agree_form.rules_version_id.data, agree_form.rules_sha256.data = str(rules.id), rules.sha256
    return render_template(
        "keys/index.html", institution=institution, grant=grant, problem=problem, keys=keys,
        key_form=key_form or _key_form(grant), agree_form=agree_form, rules=rules,
        agreed=has_agreed_to_current(institution.id, API_USAGE), live=live_key_count(institution.id),
        history=history_of([k.id for k in keys]), rotate_form=RotateForm(formdata=None),
        revoke_form=RevokeForm(formdata=None), scopes=SCOPES, kinds=KINDS, status_labels=STATUS_LABELS,
        live_statuses=LIVE, change_form=change_form or AllowlistChangeForm(formdata=None),
        pending=pending_change(institution.id),
    ), status


@bp.route("/institution/keys")
@applicant_required
def index():
    return _show(_institution())


@bp.post("/institution/keys")
@applicant_required
def create():
    institution = _institution()
    form = _key_form(current_grant(institution.id))
    if not form.validate_on_submit():
        return _show(institution, key_form=form, status=422)
    try:
        issued = create_key(institution, kind=form.kind.data, label=form.label.data, scopes=form.scopes.data,
                            ip_allowlist=form.ip_allowlist.data, expires_on=form.expires_on.data,
                            public_key=form.public_key.data, user_id=current_user.id)
    except OperationRefused as error:
        db.session.rollback()
        show_refusal(error, form)
        return _show(_institution(), key_form=form, status=422)
    db.session.commit()
    return _issued(issued)


@bp.post("/institution/keys/<public_id>/rotate")
@applicant_required
def rotate(public_id: str):
    institution = _institution()
    key = key_of(institution.id, public_id) or abort(404)
    form = RotateForm()
    if not form.validate_on_submit():
        flash(next(iter(form.overlap_hours.errors), "The form expired: try again."), "error")
        return redirect(url_for("keys.index") + f"#key-{key.public_id}")
    try:
        issued = rotate_key(key, user_id=current_user.id, overlap_hours=form.overlap_hours.data,
                            public_key=form.public_key.data if key.kind == ED25519 else None)
    except OperationRefused as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("keys.index") + f"#key-{public_id}")
    db.session.commit()
    return _issued(issued, rotated=key)


@bp.post("/institution/keys/<public_id>/revoke")
@applicant_required
def revoke(public_id: str):
    institution = _institution()
    key = key_of(institution.id, public_id) or abort(404)
    if RevokeForm().validate_on_submit():
        try:
            revoke_key(key, user_id=current_user.id, reason=request.form.get("reason"))
        except OperationRefused as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(f"Key {public_id} revoked: requests signed with it are refused from now on.", "success")
    return redirect(url_for("keys.index"))


@bp.post("/institution/keys/agree")
@applicant_required
def agree():
    institution = _institution()
    form = AgreeForm()
    rules = current_rules(API_USAGE)
    if rules is None or not form.validate_on_submit():
        return _show(institution, agree_form=form, status=422)
    shown = rules if form.rules_version_id.data == str(rules.id) else None
    try:
        record_agreement(rules=shown or rules, shown_sha256=form.rules_sha256.data if shown else "",
                         institution_id=institution.id, user_id=current_user.id, application_id=None,
                         signer_name=form.signer_name.data.strip(), signer_title=form.signer_title.data.strip(),
                         ip=client_ip(), user_agent=request.user_agent.string[:500])
    except OperationRefused as error:
        db.session.rollback()
        form.agree.errors = [*form.agree.errors, error.message]
        return _show(_institution(), agree_form=form, status=422)
    db.session.commit()
    flash(f"Agreement to the API usage rules, version {rules.version}, recorded.", "success")
    return redirect(url_for("keys.index"))


@bp.post("/institution/keys/allowlist-change")
@applicant_required
def ask_allowlist_change():
    institution = _institution()
    form = AllowlistChangeForm()
    if not form.validate_on_submit():
        return _show(institution, change_form=form, status=422)
    try:
        request_allowlist_change(institution, addresses=form.addresses.data, reason=form.reason.data,
                                 user_id=current_user.id)
    except OperationRefused as error:
        db.session.rollback()
        show_refusal(error, form)
        return _show(_institution(), change_form=form, status=422)
    db.session.commit()
    flash("Your request is with our team; you will be told by e-mail when it is decided.", "success")
    return redirect(url_for("keys.index") + "#granted")


def _issued(issued, rotated=None):
    response = render_template("keys/issued.html", issued=issued, rotated=rotated, scopes=SCOPES, kinds=KINDS)
    # Shown once: never kept by a browser or a proxy.
    return response, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}


# --- staff ---------------------------------------------------------------------------------------


@bp.route("/staff/institutions/<int(max=2147483647):institution_id>/keys")
@roles_required()
def staff_view(institution_id: int):
    institution = db.session.get(Institution, institution_id) or abort(404)
    keys = keys_of(institution.id)
    ids = [k.id for k in keys]
    return render_template("keys/staff.html", institution=institution, grant=current_grant(institution.id), keys=keys,
                           history=history_of(ids), decisions=recent_decisions(ids), ips=last_ips(ids),
                           revoke_form=RevokeForm(formdata=None), scopes=SCOPES, kinds=KINDS,
                           status_labels=STATUS_LABELS, live_statuses=LIVE)


@bp.post("/staff/institutions/<int(max=2147483647):institution_id>/keys/<public_id>/revoke")
@roles_required(*REVOKING_ROLES)
def staff_revoke(institution_id: int, public_id: str):
    key = key_of(institution_id, public_id) or abort(404)
    form = RevokeForm()
    if form.validate_on_submit():
        try:
            revoke_key(key, user_id=current_user.id, reason=form.reason.data, by_staff=True)
        except OperationRefused as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(f"Key {public_id} revoked; the institution is told by e-mail.", "success")
    return redirect(url_for("keys.staff_view", institution_id=institution_id) + f"#key-{public_id}")


@bp.route("/staff/allowlist-changes")
@roles_required()
def allowlist_changes():
    changes = pending_changes()
    names = {i.id: i for i in db.session.scalars(select(Institution).where(
        Institution.id.in_({c.institution_id for c in changes})))} if changes else {}
    grants = {c.institution_id: current_grant(c.institution_id) for c in changes}
    return render_template("keys/allowlist_changes.html", changes=changes, institutions=names, grants=grants,
                           form=AllowlistDecisionForm(formdata=None), deciding_roles=ALLOWLIST_DECIDING_ROLES)


@bp.post("/staff/allowlist-changes/<int(max=2147483647):change_id>")
@roles_required(*ALLOWLIST_DECIDING_ROLES)
def decide_allowlist(change_id: int):
    change = db.session.get(AllowlistChange, change_id) or abort(404)
    form = AllowlistDecisionForm()
    decision = request.form.get("decision")
    if form.validate_on_submit() and decision in ("approve", "decline"):
        try:
            decide_allowlist_change(change, approve=decision == "approve", note=form.note.data,
                                    user_id=current_user.id)
        except OperationRefused as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(f"Request {change.status}; the institution is told by e-mail.", "success")
    else:
        flash("Choose approve or decline.", "error")
    return redirect(url_for("keys.allowlist_changes"))
