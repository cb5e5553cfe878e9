"""The admin console's home and its staff pages: invite, list, change roles (admin with a second admin's
confirmation), reset MFA, deactivate (their open cases and investigations go back to the queues)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..accounts import staff
from ..accounts.models import STAFF_ROLES, AdminGrant, User
from ..agreements.operations import current_rules
from ..api.tokens import service_tokens
from ..applications.models import Application
from ..db import db
from ..enforcement.decisions import release_investigations_of
from ..enforcement.models import UNRESOLVED, Investigation
from ..errors import OperationRefused
from ..forms import ConfirmForm
from ..review.operations import release_cases_of
from ..security import roles_required
from .forms import DangerForm, InviteForm, RolesForm
from .rules import active_institution_count, not_agreed_to_current, rule_kinds

bp = Blueprint("admin", __name__, url_prefix="/admin")
admin_required = roles_required("admin")


def field_error(form, error: OperationRefused, default_field: str | None = None) -> None:
    """An operation's refusal at its field (or the given one), else at the top of the form."""
    name = error.field or default_field
    field = getattr(form, name, None) if name else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


@bp.route("/")
@admin_required
def index():
    members = staff.staff_members()
    kinds = {kind: {"label": label, "current": current_rules(kind), "missing": len(not_agreed_to_current(kind))}
             for kind, label in rule_kinds().items()}
    tokens = service_tokens()
    return render_template(
        "admin/index.html", active_staff=sum(1 for m in members if m.is_active),
        invited=sum(1 for m in members if m.is_active and staff.invitation_pending(m)),
        grants=staff.pending_admin_grants(), kinds=kinds, active_institutions=active_institution_count(),
        active_tokens=sum(1 for t in tokens if t.revoked_at is None), tokens=len(tokens))


# ---------------------------------------------------------------------------
# Staff.


def _member(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff:
        abort(404)
    return user


def _staff_page(invite_form: InviteForm | None = None, status: int = 200):
    members = staff.staff_members()
    return render_template(
        "admin/staff.html", members=members, invite_form=invite_form or InviteForm(formdata=None),
        pending={m.id: staff.invitation_pending(m) for m in members}, grants=staff.pending_admin_grants(),
        grant_forms=DangerForm(formdata=None), role_labels=STAFF_ROLES), status


@bp.route("/staff")
@admin_required
def staff_list():
    return _staff_page()


@bp.route("/staff/invite", methods=["POST"])
@admin_required
def invite():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            user, grant = staff.invite_staff(email=form.email.data, full_name=form.full_name.data,
                                             roles=form.roles.data, actor=current_user)
        except OperationRefused as error:
            db.session.rollback()
            field_error(form, error)
        else:
            db.session.commit()
            flash(f"Invitation sent to {user.email}. The link works once, for {staff.invitation_days()} days."
                  + (" The administrator role waits for a second administrator's confirmation." if grant else ""),
                  "success")
            return redirect(url_for("admin.member", user_id=user.id))
    return _staff_page(form, status=400)


def _member_page(user: User, roles_form=None, mfa_form=None, deactivate_form=None, status: int = 200):
    if roles_form is None:
        roles_form = RolesForm(formdata=None)
        roles_form.roles.data = user.role_names
    return render_template(
        "admin/member.html", member=user, roles_form=roles_form, mfa_form=mfa_form or DangerForm(formdata=None),
        deactivate_form=deactivate_form or DangerForm(formdata=None), resend_form=ConfirmForm(formdata=None),
        invitation=staff.invitation_pending(user), grant=staff.pending_admin_grant(user),
        is_self=user.id == current_user.id, role_labels=STAFF_ROLES,
        open_cases=_open_work(user)), status


def _open_work(user: User) -> dict[str, int]:
    """What a deactivation would hand back to the queues (read-only; the owning parts release it)."""
    cases = db.session.scalar(select(func.count()).select_from(Application).where(Application.assignee_id == user.id))
    investigations = db.session.scalar(select(func.count()).select_from(Investigation).where(
        Investigation.assignee_id == user.id, Investigation.status.in_(UNRESOLVED)))
    return {"cases": cases, "investigations": investigations}


@bp.route("/staff/<int(max=2147483647):user_id>")
@admin_required
def member(user_id: int):
    return _member_page(_member(user_id))


@bp.route("/staff/<int(max=2147483647):user_id>/roles", methods=["POST"])
@admin_required
def change_roles(user_id: int):
    user = _member(user_id)
    form = RolesForm()
    if form.validate_on_submit():
        try:
            grant = staff.change_roles(user, form.roles.data, current_user)
        except OperationRefused as error:
            db.session.rollback()
            field_error(form, error, "roles")
        else:
            db.session.commit()
            flash(f"Roles of {user.full_name} saved: {', '.join(STAFF_ROLES[r] for r in user.role_names) or 'none'}."
                  + (" The administrator role waits for a second administrator's confirmation." if grant else ""),
                  "success")
            return redirect(url_for("admin.member", user_id=user.id))
    return _member_page(user, roles_form=form, status=400)


@bp.route("/staff/<int(max=2147483647):user_id>/mfa-reset", methods=["POST"])
@admin_required
def reset_mfa(user_id: int):
    user = _member(user_id)
    form = DangerForm()
    if form.validate_on_submit():
        try:
            staff.reset_mfa(user, current_user)
        except OperationRefused as error:
            db.session.rollback()
            field_error(form, error)
        else:
            db.session.commit()
            flash(f"Two-factor authentication of {user.full_name} is reset and their sessions have ended. They set "
                  "it up again at their next sign-in.", "success")
            return redirect(url_for("admin.member", user_id=user.id))
    return _member_page(user, mfa_form=form, status=400)


@bp.route("/staff/<int(max=2147483647):user_id>/deactivate", methods=["POST"])
@admin_required
def deactivate(user_id: int):
    user = _member(user_id)
    form = DangerForm()
    if form.validate_on_submit():
        try:
            staff.deactivate_staff(user, current_user)
            cases = release_cases_of(user)
            investigations = release_investigations_of(user)
        except OperationRefused as error:
            db.session.rollback()
            field_error(form, error)
        else:
            db.session.commit()
            flash(f"{user.full_name} is deactivated and signed out everywhere. "
                  f"{len(cases)} case{'' if len(cases) == 1 else 's'} and {len(investigations)} "
                  f"investigation{'' if len(investigations) == 1 else 's'} went back to their queues.", "success")
            return redirect(url_for("admin.member", user_id=user.id))
    return _member_page(user, deactivate_form=form, status=400)


@bp.route("/staff/<int(max=2147483647):user_id>/invitation", methods=["POST"])
@admin_required
def resend_invitation(user_id: int):
    user = _member(user_id)
    if ConfirmForm().validate_on_submit():  # a new link is harmless: no box to tick
        if not user.is_active or staff.invitation_pending(user) is None:
            flash("This account has no open invitation: they have already set their password.", "error")
            return redirect(url_for("admin.member", user_id=user.id))
        staff.send_invitation(user, current_user)
        db.session.commit()
        flash(f"A new invitation went to {user.email}; the earlier link no longer works.", "success")
    return redirect(url_for("admin.member", user_id=user.id))


def _grant(grant_id: int) -> AdminGrant:
    grant = db.session.get(AdminGrant, grant_id)
    if grant is None:
        abort(404)
    return grant


@bp.route("/admin-grants/<int(max=2147483647):grant_id>/<any(confirm, cancel):decision>", methods=["POST"])
@admin_required
def decide_grant(grant_id: int, decision: str):
    grant = _grant(grant_id)
    form = DangerForm()
    if not form.validate_on_submit():
        flash("Tick the box to confirm." if form.confirm.errors else "The form expired; try again.", "error")
        return redirect(url_for("admin.staff_list"))
    try:
        if decision == "confirm":
            staff.confirm_admin_grant(grant, current_user)
        else:
            staff.cancel_admin_grant(grant, current_user)
    except OperationRefused as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("admin.staff_list"))
    db.session.commit()
    flash(f"{grant.user.full_name} is now an administrator." if decision == "confirm"
          else f"The request to make {grant.user.full_name} an administrator is cancelled.", "success")
    return redirect(url_for("admin.staff_list"))
