"""The staff dashboard and the admin jobs page: the figures (time in each stage and decisions per week
from the audit log, overdue cases), the chart geometry, the pages for each role and with no data, and
failed jobs retried from the jobs page, with Redis configured, running or unreachable."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from onboarding.accounts.operations import create_staff, find_user_by_email, totp_secret
from onboarding.applications.models import (
    APPROVED,
    DOCUMENT_REVIEW,
    PENDING_APPROVAL,
    QUALIFICATION_REVIEW,
    Application,
)
from onboarding.audit import operations as audit_operations
from onboarding.audit.models import AuditEvent
from onboarding.audit.operations import record
from onboarding.dashboard.charts import Datum, duration_label, horizontal_bars, nice_ticks, stacked_columns
from onboarding.dashboard.outbox import args_summary, late_jobs
from onboarding.dashboard.queries import (
    DECISIONS,
    applications_by_state,
    decisions_per_week,
    overdue_cases,
    stage_times,
)
from onboarding.db import db, utcnow
from onboarding.jobs import DONE, FAILED, PENDING, RUNNING, OutboxJob, job_handler, request_job
from onboarding.notifications.operations import queue_email

from .conftest import FreshStateClient, WorkerProcess, csrf_token_from, submit_form, wait_until
from .factories import PASSWORD, complete_application, make_applicant, submit
from .services import free_port

NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # a Wednesday
DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


# ---------------------------------------------------------------------------
# Helpers.


def sign_in_staff(client, roles, email="staff@exchange.example", name="Sam Staff"):
    create_staff(email=email, full_name=name, password=PASSWORD, roles=roles)
    db.session.commit()
    submit_form(client, "/login", {"email": email, "password": PASSWORD})
    client.get("/login/set-up-two-factor")
    secret = totp_secret(find_user_by_email(email))
    response = submit_form(client, "/login/set-up-two-factor", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, "staff sign-in did not complete"


def sign_in_applicant(client):
    make_applicant()
    assert submit_form(client, "/login", {"email": "mm@northwind.example", "password": PASSWORD}).status_code == 302


def transition_at(monkeypatch, at: datetime, application_id: int, action: str, source: str, target: str) -> None:
    """A state-change event exactly as states.transition() records it, under a frozen clock."""
    monkeypatch.setattr(audit_operations, "utcnow", lambda: at)
    record(f"application.{action}", "application", application_id,
           {"from": source, "to": target, "reference": f"KYB-{application_id:06d}"})


@contextmanager
def served(make_app, **overrides):
    """A client of an app with `overrides`; the test body runs in a twin app's context, as in conftest."""
    app = make_app(**overrides)
    app.test_client_class = FreshStateClient
    twin = make_app(**overrides)
    with twin.app_context():
        yield app.test_client()
        db.session.remove()


def page_text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def squash(html: str) -> str:
    """The page's text without tags or repeated spaces, to assert on what a reader sees."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def no_inline_styles_or_scripts(html: str) -> None:
    assert " style=" not in html
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script on the page"


# ---------------------------------------------------------------------------
# Chart geometry (pure functions).


def test_horizontal_bars_are_proportional_with_the_largest_filling_the_track():
    chart = horizontal_bars([Datum("a", "A", 4), Datum("b", "B", 2), Datum("c", "C", 0), Datum("d", "D", 0.01)],
                            width=500, label_width=150, value_width=50, bar_height=20, gap=10, padding=4)
    assert chart.track_x == 150 and chart.track_width == 300
    widths = [bar.width for bar in chart.bars]
    assert widths[0] == 300 and widths[1] == 150 and widths[2] == 0
    assert widths[3] == 2  # a value above zero never disappears
    assert [bar.y for bar in chart.bars] == [4, 34, 64, 94]
    assert chart.height == 4 * 2 + 4 * 20 + 3 * 10
    assert chart.bars[1].value_x == 150 + 150 + 8
    assert [bar.value_label for bar in chart.bars[:3]] == ["4", "2", "0"]
    assert not chart.is_empty


def test_horizontal_bars_with_nothing_to_show_draw_no_bar_and_do_not_divide_by_zero():
    chart = horizontal_bars([Datum("a", "A", 0, "none yet"), Datum("b", "B", 0)])
    assert chart.is_empty
    assert all(bar.width == 0 for bar in chart.bars)
    assert chart.bars[0].value_label == "none yet"
    assert horizontal_bars([]).bars == ()


def test_stacked_columns_stack_segments_without_gaps_on_a_round_axis():
    chart = stacked_columns([("w1", [1, 2, 0]), ("w2", [0, 0, 0]), ("w3", [3, 0, 4])], ["x", "y", "z"],
                            width=400, height=200, left=40, right=10, top=20, bottom=30)
    assert [tick.value for tick in chart.grid] == [0, 2, 4, 6, 8]
    scale = (200 - 30 - 20) / 8
    first, empty, third = chart.columns
    assert [s.series for s in first.segments] == ["x", "y"]  # zero segments are left out, order kept
    assert empty.segments == () and empty.total == 0
    assert first.segments[0].y + first.segments[0].height == pytest.approx(170)  # sits on the axis
    for lower, upper in zip(third.segments, third.segments[1:], strict=False):
        assert upper.y + upper.height == pytest.approx(lower.y)  # each segment sits on the one below
    assert third.segments[-1].y == pytest.approx(170 - 7 * scale)
    assert sum(s.height for s in third.segments) == pytest.approx(7 * scale)
    # Columns are evenly spaced inside the plot and do not overlap.
    assert first.x >= 40 and third.x + third.width <= 390
    assert first.x + first.width < empty.x < empty.x + empty.width < third.x
    assert not chart.is_empty
    assert stacked_columns([("w", [0, 0])], ["a", "b"]).is_empty
    with pytest.raises(ValueError):
        stacked_columns([("w", [1])], ["a", "b"])


@pytest.mark.parametrize(("maximum", "ticks"), [
    (0, [0, 1]), (1, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (10, [0, 5, 10]),
    (120, [0, 50, 100, 150]),
])
def test_nice_ticks(maximum, ticks):
    assert nice_ticks(maximum) == ticks


@pytest.mark.parametrize(("seconds", "label"), [
    (None, "–"), (45, "45 s"), (600, "10 min"), (7200, "2 h"), (5 * 3600 + 20 * 60, "5 h 20 min"),
    (2 * 86400, "2 d"), (3 * 86400 + 4 * 3600, "3 d 4 h"),
])
def test_duration_label(seconds, label):
    assert duration_label(seconds) == label


def test_args_summary_is_one_short_line():
    assert args_summary({"round": 2, "application_id": 12}) == "application_id=12, round=2"
    assert args_summary({}) == ""
    long = args_summary({"text": "x" * 200}, limit=30)
    assert len(long) == 30 and long.endswith("…")


# ---------------------------------------------------------------------------
# Figures from the audit log.


def record_case_histories(monkeypatch, now: datetime = NOW) -> None:
    """Three applications' state changes at known times before `now` (expectations in the tests)."""
    # Application 1 goes all the way to approval.
    t = now - 10 * DAY
    transition_at(monkeypatch, t, 1, "submit", "draft", "checking")
    transition_at(monkeypatch, t + 10 * MINUTE, 1, "checks_done", "checking", "document_review")
    transition_at(monkeypatch, now - 8 * DAY, 1, "documents_accepted", "document_review", "qualification_review")
    transition_at(monkeypatch, now - 7 * DAY, 1, "qualify", "qualification_review", "pending_approval")
    transition_at(monkeypatch, now - 6 * DAY, 1, "approve", "pending_approval", "approved")
    # Application 2: changes requested, resubmitted, sent back by the approver, qualified again, still pending.
    t = now - 20 * DAY
    transition_at(monkeypatch, t, 2, "submit", "draft", "checking")
    transition_at(monkeypatch, t + 30 * MINUTE, 2, "checks_done", "checking", "document_review")
    transition_at(monkeypatch, now - 16 * DAY, 2, "request_changes", "document_review", "changes_requested")
    record("application.company_saved", "application", 2, {"fields": ["website"]})  # not a state change
    transition_at(monkeypatch, now - 15 * DAY, 2, "submit", "changes_requested", "checking")
    transition_at(monkeypatch, now - 15 * DAY + 20 * MINUTE, 2, "checks_done", "checking", "document_review")
    transition_at(monkeypatch, now - 13 * DAY, 2, "documents_accepted", "document_review", "qualification_review")
    transition_at(monkeypatch, now - 10 * DAY, 2, "qualify", "qualification_review", "pending_approval")
    transition_at(monkeypatch, now - 9 * DAY, 2, "send_back", "pending_approval", "qualification_review")
    transition_at(monkeypatch, now - 8 * DAY - 12 * HOUR, 2, "qualify", "qualification_review", "pending_approval")
    # Application 3 entered document review before the 180-day window: only its later stay counts.
    transition_at(monkeypatch, now - 200 * DAY, 3, "submit", "draft", "checking")
    transition_at(monkeypatch, now - 185 * DAY, 3, "checks_done", "checking", "document_review")
    transition_at(monkeypatch, now - 170 * DAY, 3, "documents_accepted", "document_review", "qualification_review")
    transition_at(monkeypatch, now - 160 * DAY, 3, "qualify", "qualification_review", "pending_approval")
    # Another kind of subject with the same shape of details is not an application's history.
    monkeypatch.setattr(audit_operations, "utcnow", lambda: now - 5 * DAY)
    record("application.checks_done", "institution", 1, {"from": "approved", "to": "checking"})
    db.session.commit()


def test_median_time_in_each_stage_from_the_audit_log(app, monkeypatch):
    record_case_histories(monkeypatch)
    times = {s.state: s for s in stage_times(NOW)}
    assert list(times) == ["checking", "document_review", "qualification_review", "pending_approval"]
    # Checking: 10, 30 and 20 minutes.
    assert times["checking"].stays == 3
    assert times["checking"].median_seconds == 20 * 60
    # Document review: 2 d - 10 min, 4 d - 30 min, 2 d - 20 min (application 3's began before the window).
    assert times["document_review"].stays == 3
    assert times["document_review"].median_seconds == (2 * DAY - 10 * MINUTE).total_seconds()
    # Qualification: 1 d, 3 d, 12 h and application 3's 10 d -> median of 1 d and 3 d.
    assert times["qualification_review"].stays == 4
    assert times["qualification_review"].median_seconds == (2 * DAY).total_seconds()
    # Pending approval: 1 d (approved) and 1 d (sent back); application 2's second stay is still open.
    assert times["pending_approval"].stays == 2
    assert times["pending_approval"].median_seconds == DAY.total_seconds()


def test_a_shorter_window_leaves_out_older_stays_and_an_empty_log_has_no_medians(app, monkeypatch):
    assert all(s.median_seconds is None and s.stays == 0 for s in stage_times(NOW))
    record_case_histories(monkeypatch)
    times = {s.state: s for s in stage_times(NOW, days=9)}
    # Only application 1's qualification (-8 d to -7 d) and approval stays, and application 2's
    # second qualification stay (-9 d to -8 d 12 h) began within the last 9 days.
    assert times["qualification_review"].stays == 2
    assert times["qualification_review"].median_seconds == (18 * HOUR).total_seconds()
    assert times["pending_approval"].stays == 1
    assert times["document_review"].stays == 0 and times["document_review"].median_seconds is None


def test_an_action_that_can_lead_to_several_states_is_read_from_the_event(app, monkeypatch):
    """Today every action leads to one state; should one ever lead to several, its `to` is read."""
    from onboarding.applications.states import SYSTEM, TRANSITIONS, Rule
    from onboarding.dashboard import queries

    monkeypatch.setattr(queries, "TRANSITIONS", {
        **TRANSITIONS,
        ("document_review", "escalate"): Rule(PENDING_APPROVAL, SYSTEM),
        ("qualification_review", "escalate"): Rule(DOCUMENT_REVIEW, SYSTEM),
    })
    transition_at(monkeypatch, NOW - 3 * DAY, 1, "checks_done", "checking", "document_review")
    transition_at(monkeypatch, NOW - 2 * DAY, 1, "escalate", "document_review", "pending_approval")
    transition_at(monkeypatch, NOW - 2 * DAY + 3 * HOUR, 1, "approve", "pending_approval", "approved")
    db.session.commit()
    times = {s.state: s for s in stage_times(NOW)}
    assert times["document_review"].median_seconds == DAY.total_seconds()
    assert times["pending_approval"].median_seconds == (3 * HOUR).total_seconds()
    assert times["qualification_review"].stays == 0


def test_decisions_per_week_for_the_last_twelve_weeks(app, monkeypatch):
    record_case_histories(monkeypatch)
    first_monday = datetime(2025, 12, 29, tzinfo=UTC)
    transition_at(monkeypatch, first_monday, 4, "reject", "document_review", "rejected")  # counted (first week)
    transition_at(monkeypatch, first_monday - MINUTE, 5, "reject", "document_review", "rejected")  # too old
    transition_at(monkeypatch, NOW - HOUR, 6, "reject", "pending_approval", "rejected")  # this week
    transition_at(monkeypatch, NOW + HOUR, 7, "approve", "pending_approval", "approved")  # after `now`
    db.session.commit()

    weeks = decisions_per_week(NOW)
    assert len(weeks) == 12
    assert weeks[0].start == date(2025, 12, 29) and weeks[-1].start == date(2026, 3, 16)
    assert all(w.start.weekday() == 0 for w in weeks)
    by_week = {w.start: w.counts for w in weeks}
    assert all(set(counts) == set(DECISIONS) for counts in by_week.values())
    assert by_week[date(2026, 3, 16)] == {**dict.fromkeys(DECISIONS, 0), "reject": 1}
    assert by_week[date(2026, 3, 9)] == {**dict.fromkeys(DECISIONS, 0), "documents_accepted": 1, "qualify": 2,
                                         "approve": 1, "send_back": 1}
    assert by_week[date(2026, 3, 2)] == {**dict.fromkeys(DECISIONS, 0), "request_changes": 1,
                                         "documents_accepted": 1, "qualify": 1}
    assert by_week[date(2025, 12, 29)] == {**dict.fromkeys(DECISIONS, 0), "reject": 1}
    assert sum(w.total for w in weeks) == 10


def make_case(state: str, due_at: datetime | None, n: int, *, assignee_id: int | None = None,
              submitted: bool = True) -> Application:
    """An application placed straight in `state` (a test shortcut: the state machine is tested elsewhere)."""
    user = make_applicant(email=f"case{n}@example.com", legal_name=f"Case {n} Markets Ltd")
    application = Application(
        institution_id=user.institution_id, created_by_id=user.id, reference=f"KYB-9{n:05d}",
        legal_name=f"Case {n} Markets Ltd", state=state, submitted_at=NOW - 30 * DAY if submitted else None,
        due_at=due_at, assignee_id=assignee_id,
    )
    db.session.add(application)
    db.session.commit()
    return application


def test_overdue_cases_longest_overdue_first_with_the_assignee(app):
    reviewer = create_staff(email="dana@exchange.example", full_name="Dana Document", password=PASSWORD,
                            roles=["document_reviewer"])
    db.session.commit()
    late_docs = make_case(DOCUMENT_REVIEW, NOW - 3 * DAY, 1, assignee_id=reviewer.id)
    later_qual = make_case(QUALIFICATION_REVIEW, NOW - 5 * DAY, 2)
    make_case(PENDING_APPROVAL, NOW + DAY, 3)  # not due yet
    make_case(APPROVED, NOW - 9 * DAY, 4)  # decided: not in a queue
    make_case(DOCUMENT_REVIEW, None, 5)  # no due date
    just_late = make_case(PENDING_APPROVAL, NOW - MINUTE, 6)

    overdue = overdue_cases(NOW)
    assert overdue.total == 3
    assert [(s.state, s.count) for s in overdue.per_state] == [
        (DOCUMENT_REVIEW, 1), (QUALIFICATION_REVIEW, 1), (PENDING_APPROVAL, 1)]
    assert [c.application_id for c in overdue.most_overdue] == [later_qual.id, late_docs.id, just_late.id]
    first, second = overdue.most_overdue[:2]
    assert (first.reference, first.legal_name, first.state_label, first.assignee_name) == (
        "KYB-900002", "Case 2 Markets Ltd", "Qualification review", None)
    assert second.assignee_name == "Dana Document" and second.due_at == NOW - 3 * DAY
    assert second.overdue_by(NOW) == (3 * DAY).total_seconds()
    limited = overdue_cases(NOW, limit=1)
    assert limited.total == 3 and [c.application_id for c in limited.most_overdue] == [later_qual.id]

    counts = applications_by_state()
    assert counts.of(DOCUMENT_REVIEW) == 2 and counts.of(APPROVED) == 1 and counts.in_review == 5
    assert counts.submitted == 6 and counts.drafts == 0


def test_a_real_submission_shows_up_in_the_figures(app):
    """Through the state machine, not hand-written events: the audit events carry what the queries read."""
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)  # the checks run in-process (JOBS_EAGER) and move it to document review
    db.session.refresh(application)
    assert application.state == DOCUMENT_REVIEW
    now = utcnow()
    times = {s.state: s for s in stage_times(now)}
    assert times["checking"].stays == 1
    entered, left = db.session.scalars(
        select(AuditEvent.occurred_at).where(AuditEvent.subject_type == "application",
                                             AuditEvent.subject_id == str(application.id),
                                             AuditEvent.action.in_(["application.submit", "application.checks_done"]))
        .order_by(AuditEvent.id)).all()
    assert times["checking"].median_seconds == pytest.approx((left - entered).total_seconds(), abs=0.002)
    counts = applications_by_state()
    assert counts.of(DOCUMENT_REVIEW) == 1 and counts.submitted == 1
    assert sum(w.total for w in decisions_per_week(now)) == 0


# ---------------------------------------------------------------------------
# The dashboard page.


def test_the_dashboard_with_no_data_reads_well(app, client):
    sign_in_staff(client, ["qualification_reviewer"])
    html = page_text(client.get("/staff"))
    text = squash(html)
    no_inline_styles_or_scripts(html)
    assert "Welcome, Sam Staff" in text and "Qualification reviewer" in text
    assert "No application has been submitted yet" in text
    assert "No case has gone through a stage in the last 180 days yet" in text
    assert "No decisions in the last 12 weeks" in text
    assert "Nothing is overdue" in text
    assert "<svg" not in html  # no empty charts, only the sentences above
    # The figures are still there as tables, all zero.
    assert "Show the figures" in text
    assert re.search(r"Drafts \(not submitted\)\s*</th>\s*<td class=\"num\">0</td>", html)


@pytest.mark.parametrize(("roles", "own_card", "other_card"), [
    (["document_reviewer"], "Per-document decisions", "Second pair of eyes"),
    (["qualification_reviewer"], "Score market-making profiles", "Per-document decisions"),
    (["approver"], "Second pair of eyes", "Score market-making profiles"),
    (["compliance"], "Sign-offs for high-risk", "Second pair of eyes"),
    (["admin"], "Staff accounts, rule documents, service tokens and sanctions lists", "Per-document decisions"),
])
def test_the_dashboard_draws_the_charts_for_every_role(app, client, monkeypatch, roles, own_card, other_card):
    record_case_histories(monkeypatch, now=utcnow())
    monkeypatch.setattr(audit_operations, "utcnow", utcnow)  # sign-in events at the real time
    make_case(DOCUMENT_REVIEW, utcnow() - 2 * DAY, 1)
    make_case(QUALIFICATION_REVIEW, utcnow() + DAY, 2)
    make_case(APPROVED, None, 3)
    make_case("draft", None, 4, submitted=False)
    sign_in_staff(client, roles)

    html = page_text(client.get("/staff"))
    text = squash(html)
    no_inline_styles_or_scripts(html)
    assert own_card in text and other_card not in text
    assert ("/staff/jobs" in html) == ("admin" in roles)
    # Three charts, each an image with a title and a description that reads out its figures.
    assert html.count('role="img"') == 3 and html.count("<title id=") == 3 and html.count("<desc id=") == 3
    states_desc = re.search(r'<desc id="chart-states-desc">([^<]*)</desc>', html).group(1)
    assert "Document review: 1" in states_desc and "Qualification review: 1" in states_desc
    assert "Approved: 1" in states_desc and "Rejected: 0" in states_desc
    assert '<title id="chart-states-title">Applications by state: 3 submitted</title>' in html
    stages_desc = re.search(r'<desc id="chart-stages-desc">([^<]*)</desc>', html).group(1)
    assert "Automated checks: 20 min" in stages_desc and "Qualification review: 2 d" in stages_desc
    # Three bars drawn for three non-empty states, with the figures also in a table.
    assert len(re.findall(r'class="chart-bar bar-state-', html)) == 3
    assert "1 draft not yet submitted" in text
    assert re.search(r"<td>Pending approval</td><td class=\"num\">1 d</td><td class=\"num\">2</td>", html)
    # Overdue: the one late case, linked to its case page.
    assert "Case 1 Markets Ltd" in text and "Case 2 Markets Ltd" not in text.split("Overdue cases")[1].split(
        "Applications by state")[0]
    case_1 = db.session.scalar(select(Application.id).where(Application.legal_name == "Case 1 Markets Ltd"))
    assert f'href="/staff/applications/{case_1}"' in html
    assert "Unassigned" in text


def test_decisions_chart_on_the_page(app, client, monkeypatch):
    monkeypatch.setattr(audit_operations, "utcnow", lambda: utcnow() - 7 * DAY)
    record("application.approve", "application", 1, {"from": "pending_approval", "to": "approved"})
    record("application.reject", "application", 2, {"from": "document_review", "to": "rejected"})
    record("application.reject", "application", 3, {"from": "document_review", "to": "rejected"})
    db.session.commit()
    monkeypatch.setattr(audit_operations, "utcnow", utcnow)
    sign_in_staff(client, ["approver"])
    html = page_text(client.get("/staff"))
    desc = re.search(r'<desc id="chart-decisions-desc">([^<]*)</desc>', html).group(1)
    assert re.search(r"Week of [^:]+: 3 \(approved 1, rejected 2\)", desc)
    assert desc.count(": 0") == 11
    assert len(re.findall(r'class="chart-segment series-approve"', html)) == 1
    assert len(re.findall(r'class="chart-segment series-reject"', html)) == 1
    assert '<text class="chart-total"' in html


def test_applicants_and_strangers_do_not_see_the_dashboard(app, client):
    assert client.get("/staff").status_code == 302
    sign_in_applicant(client)
    assert client.get("/staff").status_code == 403


# ---------------------------------------------------------------------------
# The jobs page.

FLAKY_CALLS: list[str] = []


@job_handler("tests.dashboard_flaky")
def flaky_job(marker: str) -> None:
    """Fails on its first call, works after."""
    FLAKY_CALLS.append(marker)
    if len(FLAKY_CALLS) == 1:
        raise RuntimeError("upstream refused the call (first attempt)")


def test_a_failed_job_shows_with_its_error_and_retry_runs_it_again(make_app):
    FLAKY_CALLS.clear()
    with served(make_app, OUTBOX_MAX_ATTEMPTS=1) as client:
        request_job("tests.dashboard_flaky", marker="alpha")
        db.session.commit()  # dispatched in-process after the commit; fails; one attempt allowed
        job = db.session.scalar(select(OutboxJob).where(OutboxJob.name == "tests.dashboard_flaky"))
        assert job.state == FAILED and job.attempts == 1 and FLAKY_CALLS == ["alpha"]
        job_id = job.id
        db.session.rollback()

        sign_in_staff(client, ["admin"])
        html = page_text(client.get("/staff/jobs"))
        text = squash(html)
        no_inline_styles_or_scripts(html)
        assert "Failed jobs (1)" in text
        assert "tests.dashboard_flaky" in text and "marker=alpha" in text
        assert "RuntimeError: upstream refused the call (first attempt)" in text
        assert "Redis is not configured" in text  # JOBS_EAGER in the tests
        assert f'action="/staff/jobs/{job_id}/retry"' in html

        token = csrf_token_from(html)
        response = client.post(f"/staff/jobs/{job_id}/retry", data={"csrf_token": token}, follow_redirects=True)
        assert f"Job #{job_id} (tests.dashboard_flaky) ran again and finished." in squash(page_text(response))
        db.session.expire_all()
        job = db.session.get(OutboxJob, job_id)
        assert job.state == DONE and job.attempts == 1 and job.last_error is None
        assert FLAKY_CALLS == ["alpha", "alpha"]
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "job.retried"))
        assert event.subject_type == "outbox_job" and event.subject_id == str(job_id)
        assert event.details["name"] == "tests.dashboard_flaky" and event.details["previous_attempts"] == 1
        assert event.actor_label == "staff@exchange.example"
        assert "No job has failed" in squash(page_text(client.get("/staff/jobs")))

        # Retrying a job that is not failed changes nothing.
        response = client.post(f"/staff/jobs/{job_id}/retry", data={"csrf_token": token}, follow_redirects=True)
        assert "is not failed any more" in squash(page_text(response))
        assert db.session.get(OutboxJob, job_id).state == DONE
        # Without the CSRF token nothing happens either.
        assert client.post(f"/staff/jobs/{job_id}/retry").status_code == 400


def test_retry_puts_the_job_back_to_pending_when_it_cannot_run_yet(make_app):
    """The operation itself: pending, fresh attempts, due now, audited; the dispatch happens after commit."""
    from onboarding.dashboard.operations import retry_failed_job
    from onboarding.errors import OperationRefused

    with served(make_app):
        job = OutboxJob(name="tests.dashboard_flaky", args={"marker": "b"}, state=FAILED, attempts=8,
                        last_error="boom", finished_at=utcnow())
        db.session.add(job)
        db.session.commit()
        retry_failed_job(job.id)
        db.session.flush()
        db.session.expire_all()
        job = db.session.get(OutboxJob, job.id)
        assert (job.state, job.attempts, job.finished_at, job.lease_until) == (PENDING, 0, None, None)
        assert job.run_after <= utcnow()
        db.session.rollback()
        with pytest.raises(OperationRefused):
            retry_failed_job(999_999)


def test_late_jobs_and_the_failed_list_is_paged(make_app):
    with served(make_app) as client:
        now = utcnow()
        abandoned = OutboxJob(name="applications.run_checks", args={"application_id": 7}, state=RUNNING,
                              attempts=1, lease_until=now - 5 * MINUTE)
        stuck = OutboxJob(name="notifications.deliver_email", args={"email_id": 3}, state=PENDING,
                          run_after=now - 30 * MINUTE)
        fresh = OutboxJob(name="notifications.deliver_email", args={"email_id": 4}, state=PENDING, run_after=now)
        leased = OutboxJob(name="applications.run_checks", args={"application_id": 8}, state=RUNNING,
                           attempts=1, lease_until=now + 5 * MINUTE)
        failed = [OutboxJob(name="notifications.deliver_email", args={"email_id": 100 + i}, state=FAILED,
                            attempts=8, last_error=f"error {i}", finished_at=now - i * MINUTE) for i in range(30)]
        db.session.add_all([abandoned, stuck, fresh, leased, *failed])
        db.session.commit()

        late = late_jobs(now)
        assert [(item.job.id, item.reason) for item in late] == [(stuck.id, "waiting"),
                                                                 (abandoned.id, "lease_expired")]

        sign_in_staff(client, ["admin"])
        text = squash(page_text(client.get("/staff/jobs")))
        assert "Late jobs (2)" in text and "Lease expired" in text and "Waiting too long" in text
        assert "Failed jobs (30)" in text and "Page 1 of 2" in text
        assert "email_id=100" in text and "email_id=124" in text and "email_id=125" not in text
        assert re.search(r"notifications\.deliver_email 2 0 0 30 32", text)  # jobs by name and state
        second = squash(page_text(client.get("/staff/jobs?page=2")))
        assert "email_id=125" in second and "email_id=129" in second and "email_id=100 " not in second
        assert client.get("/staff/jobs?page=3").status_code == 404


def test_only_admins_see_the_jobs_page(app, client):
    assert client.get("/staff/jobs").status_code == 302  # to the sign-in page
    sign_in_staff(client, ["document_reviewer", "compliance", "approver", "qualification_reviewer"])
    assert client.get("/staff/jobs").status_code == 403
    token = csrf_token_from(page_text(client.get("/staff")))
    assert client.post("/staff/jobs/1/retry", data={"csrf_token": token}).status_code == 403


def test_applicants_cannot_see_the_jobs_page(app, client):
    sign_in_applicant(client)
    assert client.get("/staff/jobs").status_code == 403


def test_redis_unreachable_is_a_note_not_an_error(make_app):
    with served(make_app, REDIS_URL=f"redis://:secret@127.0.0.1:{free_port()}/0", JOBS_EAGER=False) as client:
        sign_in_staff(client, ["admin"])
        html = page_text(client.get("/staff/jobs"))
        text = squash(html)
        assert "cannot be reached" in text and "queue lengths and workers are unknown" in text
        assert "secret" not in html  # the password in the URL is never shown


def test_redis_queue_and_workers_are_listed(make_app, migrated, redis_server):
    worker = WorkerProcess(migrated, redis_server.url, {"MAIL_BACKEND": "console"})
    with served(make_app, REDIS_URL=redis_server.url, JOBS_EAGER=False, MAIL_BACKEND="console") as client:
        from onboarding.jobs import redis_connection

        redis_connection().flushdb()
        sign_in_staff(client, ["admin"])
        redis_connection().flushdb()  # drop anything the sign-in queued
        queue_email("someone@example.com", "verify_email", "Queued", name="S", link="http://x/1", hours=1)
        db.session.commit()  # pushed to RQ; no worker yet

        text = squash(page_text(client.get("/staff/jobs")))
        assert re.search(r"onboarding 1 0 0 0", text), text  # queue, waiting, running, scheduled, failed
        assert "No worker is running" in text
        try:
            worker.start()

            def job_done():
                db.session.rollback()
                return db.session.scalar(select(OutboxJob.state).where(OutboxJob.name == "notifications.deliver_email")
                                         .order_by(OutboxJob.id.desc())) == DONE

            wait_until(job_done, message="the worker to run the queued job")
            text = squash(page_text(client.get("/staff/jobs")))
            assert "Workers (1)" in text and "No worker is running" not in text
            assert re.search(r"onboarding 0 0 0 0", text)
        finally:
            worker.stop()
