"""/metrics: Prometheus text with the authorize counters and latency and the state of the work, for an
allowed network or a service token with `metrics:read`, and nobody else."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from onboarding.db import db, utcnow
from onboarding.jobs import OutboxJob

from .factories import complete_application, granted_institution, make_applicant, submit
from .test_api import call, order_call, service_token
from .test_keys import ORDER, hmac_key, signed


def samples(response) -> dict[tuple[str, tuple], float]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_loopback_scrapes_decisions_latency_and_the_state_of_the_work(client):
    user = granted_institution()
    issued = hmac_key(user)
    token = service_token("authorize")
    before = samples(client.get("/metrics"))
    allowed = ("onboarding_authorize_decisions_total", (("reason", "ok"),))
    seconds = ("onboarding_authorize_seconds_count", ())
    for _ in range(3):
        assert call(client, token, order_call(issued.api_key, signed(ORDER, secret=issued.secret))).status_code == 200
    call(client, token, order_call(issued.api_key, signed(ORDER, secret="wrong")))
    owed = OutboxJob(name="notifications.deliver_email", args={"message_id": 0}, state="pending",
                     created_at=utcnow() - timedelta(minutes=5))  # as a sweep would find it: 5 minutes old
    db.session.add(owed)
    db.session.commit()

    after = samples(client.get("/metrics"))
    assert after[allowed] - before.get(allowed, 0) == 3
    bad = ("onboarding_authorize_decisions_total", (("reason", "bad_signature"),))
    assert after[bad] - before.get(bad, 0) == 1
    assert after[seconds] - before.get(seconds, 0) == 4
    assert after[("onboarding_jobs", (("state", "pending"),))] >= 1
    assert after[("onboarding_jobs_oldest_age_seconds", (("state", "pending"),))] >= 299
    assert after[("onboarding_screening_hits_pending", ())] == 0
    assert after[("onboarding_investigations", (("status", "open"),))] == 0


def test_queues_and_overdue_cases_show(client):
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)  # the checks run at once here (eager jobs): the case waits for review
    found = samples(client.get("/metrics"))
    assert found[("onboarding_review_queue_cases", (("queue", "documents"),))] == 1
    assert found[("onboarding_review_overdue_cases", (("state", application.state),))] == 0
    application.due_at = utcnow() - timedelta(days=1)
    db.session.commit()
    found = samples(client.get("/metrics"))
    assert found[("onboarding_review_overdue_cases", (("state", application.state),))] == 1


def test_other_networks_need_a_token_with_the_metrics_scope(client):
    outside = {"REMOTE_ADDR": "198.51.100.7"}
    response = client.get("/metrics", environ_base=outside)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "metrics_forbidden"
    gateway = service_token("authorize")
    response = client.get("/metrics", environ_base=outside, headers={"Authorization": f"Bearer {gateway}"})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "token_scope"
    response = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    scraper = service_token("metrics:read")
    response = client.get("/metrics", environ_base=outside, headers={"Authorization": f"Bearer {scraper}"})
    assert ("onboarding_screening_hits_pending", ()) in samples(response)
