"""Managing staff accounts: invitations, roles (admin only with a second admin's confirmation), MFA resets
and deactivation. The rules that keep the console safe live here, next to the tables they guard:
nobody changes their own roles, and the last active admin cannot lose the role or the account.
Operations flush and audit; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from ..audit.operations import record
from ..db import db, utcnow
from ..errors import OperationRefused
from ..notifications.operations import queue_email
from ..security import hash_password
from ..templating import external_url
from .models import STAFF, STAFF_ROLES, AdminGrant, RecoveryCode, StaffInvitation, StaffRole, User
from .operations import _check_new_password, end_sessions, find_user_by_email, normalise_email

ADMIN = "admin"
INVITATION_DAYS_DEFAULT = 7
CONFIRMED, CANCELLED = "confirmed", "cancelled"


class StaffRefused(OperationRefused):
    code = "staff_refused"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clean_roles(roles: Iterable[str]) -> list[str]:
    chosen = sorted(set(roles or []))
    unknown = [r for r in chosen if r not in STAFF_ROLES]
    if unknown:
        raise StaffRefused(f"Unknown role {', '.join(unknown)}; choose from the list.", field="roles")
    if not chosen:
        raise StaffRefused("Choose at least one role.", field="roles")
    return chosen


def active_admin_count(excluding: User | None = None) -> int:
    query = select(func.count()).select_from(User).join(StaffRole).where(
        StaffRole.role == ADMIN, User.is_active.is_(True))
    if excluding is not None:
        query = query.where(User.id != excluding.id)
    return db.session.scalar(query)


def _require_admin(actor: User) -> None:
    if not (actor.is_staff and actor.is_active and actor.has_role(ADMIN)):
        raise StaffRefused("Only an administrator manages staff accounts.")


def _require_other(user: User, actor: User, what: str) -> None:
    if user.id == actor.id:
        raise StaffRefused(f"You cannot {what} your own account: ask another administrator.")


# ---------------------------------------------------------------------------
# Invitations.


def invitation_days() -> int:
    return int(current_app.config.get("STAFF_INVITATION_DAYS", INVITATION_DAYS_DEFAULT))


def invite_staff(*, email: str, full_name: str, roles: Iterable[str], actor: User) -> tuple[User, AdminGrant | None]:
    """Create the account (no usable password yet) with its roles and e-mail a single-use link. The admin
    role is not granted here: it becomes a request that a second admin confirms."""
    _require_admin(actor)
    email = normalise_email(email or "")
    full_name = (full_name or "").strip()
    if not full_name:
        raise StaffRefused("Enter the person's full name.", field="full_name")
    chosen = _clean_roles(roles)
    if find_user_by_email(email) is not None:
        raise StaffRefused("An account with this e-mail address already exists.", field="email")
    user = User(email=email, full_name=full_name, kind=STAFF, email_verified_at=None,
                # Nobody knows this password: the account opens only through the invitation link.
                password_hash=hash_password(secrets.token_urlsafe(32)))
    user.roles = [StaffRole(role=r) for r in chosen if r != ADMIN]
    db.session.add(user)
    db.session.flush()
    record("staff.invited", "user", user.id, {"email": email, "roles": [r for r in chosen if r != ADMIN]})
    grant = _request_admin(user, actor) if ADMIN in chosen else None
    send_invitation(user, actor)
    return user, grant


def send_invitation(user: User, actor: User) -> StaffInvitation:
    """A new link; any earlier one stops working."""
    _withdraw_invitations(user)
    token = secrets.token_urlsafe(32)
    invitation = StaffInvitation(user_id=user.id, token_sha256=_digest(token), invited_by_id=actor.id,
                                 expires_at=utcnow() + timedelta(days=invitation_days()))
    db.session.add(invitation)
    db.session.flush()
    queue_email(user.email, "staff_invitation", "You are invited to the institutional onboarding staff console",
                name=user.full_name, inviter=actor.full_name, link=external_url("accounts.accept_invitation",
                                                                              token=token),
                days=invitation_days(), roles=[STAFF_ROLES[r] for r in user.role_names])
    record("staff.invitation_sent", "user", user.id, {"email": user.email, "expires_at": invitation.expires_at})
    return invitation


def _withdraw_invitations(user: User) -> None:
    for invitation in open_invitations(user):
        invitation.withdrawn_at = utcnow()


def open_invitations(user: User) -> list[StaffInvitation]:
    return list(db.session.scalars(select(StaffInvitation).where(
        StaffInvitation.user_id == user.id, StaffInvitation.used_at.is_(None),
        StaffInvitation.withdrawn_at.is_(None))))


def invitation_for_token(token: str) -> StaffInvitation:
    """The invitation a link names, if it can still be used; otherwise a refusal that says why."""
    invitation = db.session.scalar(select(StaffInvitation).where(StaffInvitation.token_sha256 == _digest(token)))
    if invitation is None:
        raise StaffRefused("This invitation link is not valid. Check that you copied all of it.")
    if invitation.used_at is not None:
        raise StaffRefused("This invitation has already been used. Sign in with the password you chose, or use "
                           "“Forgot your password?”.")
    if invitation.withdrawn_at is not None or not invitation.user.is_active:
        raise StaffRefused("This invitation was withdrawn. Ask your administrator for a new one.")
    if invitation.expires_at <= utcnow():
        raise StaffRefused("This invitation has expired. Ask your administrator to send a new one.")
    return invitation


def accept_invitation(token: str, password: str) -> User:
    """Set the password; the link is used up. TOTP enrolment follows at once (the caller starts it)."""
    invitation = invitation_for_token(token)
    user = invitation.user
    _check_new_password(password, user.email, user.full_name)
    user.password_hash = hash_password(password)
    user.email_verified_at = user.email_verified_at or utcnow()  # the link reached the mailbox
    invitation.used_at = utcnow()
    end_sessions(user, "invitation accepted")
    record("staff.invitation_accepted", "user", user.id, {}, actor_id=user.id, actor_label=user.email)
    return user


def invitation_pending(user: User) -> StaffInvitation | None:
    """The invitation a staff member has not yet accepted (None once they set a password)."""
    return db.session.scalar(select(StaffInvitation).where(
        StaffInvitation.user_id == user.id, StaffInvitation.used_at.is_(None),
        StaffInvitation.withdrawn_at.is_(None)).order_by(StaffInvitation.id.desc()).limit(1))


# ---------------------------------------------------------------------------
# Roles.


def change_roles(user: User, roles: Iterable[str], actor: User) -> AdminGrant | None:
    """Set a staff member's roles. Adding admin makes a request for a second admin; removing it is immediate
    unless they are the last active admin."""
    _require_admin(actor)
    _require_other(user, actor, "change the roles of")
    if not user.is_staff:
        raise StaffRefused("Only staff accounts have roles.")
    if not user.is_active:
        raise StaffRefused("This account is deactivated: its roles cannot change.")
    wanted = set(_clean_roles(roles))
    current = set(user.role_names)
    if ADMIN in current and ADMIN not in wanted and active_admin_count(excluding=user) == 0:
        raise StaffRefused("This is the last active administrator: make someone else an administrator first.",
                           field="roles")
    grant = pending_admin_grant(user)
    asked_for_admin = ADMIN in wanted and ADMIN not in current
    if asked_for_admin:
        wanted.discard(ADMIN)  # granted only when a second admin confirms
    elif grant is not None and ADMIN not in wanted:
        cancel_admin_grant(grant, actor, why="admin role no longer asked for")
    if wanted == current and not (asked_for_admin and grant is None):
        waiting = ", and the admin role is waiting for a second administrator." if asked_for_admin else "."
        raise StaffRefused("Nothing changed: these are already the roles" + waiting, field="roles")
    if wanted != current:
        added, removed = sorted(wanted - current), sorted(current - wanted)
        user.roles = [role for role in user.roles if role.role in wanted] + [StaffRole(role=r) for r in added]
        record("staff.roles_changed", "user", user.id, {"email": user.email, "added": added, "removed": removed,
                                                       "roles": sorted(wanted)})
    if asked_for_admin and grant is None:
        return _request_admin(user, actor)
    return None


def _request_admin(user: User, actor: User) -> AdminGrant:
    grant = AdminGrant(user_id=user.id, requested_by_id=actor.id)
    db.session.add(grant)
    db.session.flush()
    record("staff.admin_requested", "user", user.id, {"email": user.email, "grant_id": grant.id,
                                                     "requested_by": actor.full_name})
    return grant


def pending_admin_grant(user: User) -> AdminGrant | None:
    return db.session.scalar(select(AdminGrant).where(AdminGrant.user_id == user.id, AdminGrant.outcome.is_(None)))


def pending_admin_grants() -> list[AdminGrant]:
    return list(db.session.scalars(select(AdminGrant).where(AdminGrant.outcome.is_(None))
                                   .order_by(AdminGrant.requested_at)))


def confirm_admin_grant(grant: AdminGrant, actor: User) -> None:
    _require_admin(actor)
    if grant.outcome is not None:
        raise StaffRefused(f"This request was already {grant.outcome}.")
    if grant.requested_by_id == actor.id:
        raise StaffRefused("A second administrator must confirm: you asked for this grant yourself.")
    _require_other(grant.user, actor, "confirm an admin grant for")
    if not grant.user.is_active:
        raise StaffRefused("This account is deactivated; the grant cannot be confirmed.")
    grant.outcome, grant.decided_by_id, grant.decided_at = CONFIRMED, actor.id, utcnow()
    if not grant.user.has_role(ADMIN):
        grant.user.roles.append(StaffRole(role=ADMIN))
    record("staff.admin_granted", "user", grant.user_id, {"email": grant.user.email, "grant_id": grant.id,
                                                         "requested_by": grant.requested_by.full_name,
                                                         "confirmed_by": actor.full_name})


def cancel_admin_grant(grant: AdminGrant, actor: User, why: str = "cancelled by an administrator") -> None:
    _require_admin(actor)
    if grant.outcome is not None:
        raise StaffRefused(f"This request was already {grant.outcome}.")
    grant.outcome, grant.decided_by_id, grant.decided_at = CANCELLED, actor.id, utcnow()
    record("staff.admin_request_cancelled", "user", grant.user_id, {"grant_id": grant.id, "why": why})


# ---------------------------------------------------------------------------
# MFA reset and deactivation.


def reset_mfa(user: User, actor: User) -> None:
    """They set up TOTP again at their next sign-in; their sessions end now."""
    _require_admin(actor)
    _require_other(user, actor, "reset two-factor authentication for")
    if not user.is_staff:
        raise StaffRefused("Only staff accounts use two-factor authentication.")
    if not user.mfa_enrolled and not user.totp_secret_sealed:
        raise StaffRefused("Two-factor authentication is not set up for this account yet: nothing to reset.")
    user.totp_secret_sealed = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    record("staff.mfa_reset", "user", user.id, {"email": user.email})
    end_sessions(user, "two-factor authentication reset")


def deactivate_staff(user: User, actor: User) -> None:
    """The account stops working at once: every session ends, open invitations and admin requests lapse. The
    caller hands their open work back to the queues (that work belongs to other parts)."""
    _require_admin(actor)
    _require_other(user, actor, "deactivate")
    if not user.is_staff:
        raise StaffRefused("Only staff accounts are deactivated here.")
    if not user.is_active:
        raise StaffRefused("This account is already deactivated.")
    if user.has_role(ADMIN) and active_admin_count(excluding=user) == 0:
        raise StaffRefused("This is the last active administrator and cannot be deactivated.")
    user.is_active = False
    _withdraw_invitations(user)
    grant = pending_admin_grant(user)
    if grant is not None:
        cancel_admin_grant(grant, actor, why="account deactivated")
    record("staff.deactivated", "user", user.id, {"email": user.email})
    end_sessions(user, "account deactivated")


def staff_members() -> list[User]:
    return list(db.session.scalars(select(User).where(User.kind == STAFF)
                                   .order_by(User.is_active.desc(), User.full_name)))
