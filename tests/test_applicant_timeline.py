"""The applicant's timeline on the status page tells the story: each milestone on its own line (submitted,
changes requested, resubmitted, ...), and the edits between two milestones folded into one line that counts
them ("3 people added · 13 documents uploaded"), every change still listed behind a disclosure."""

from __future__ import annotations

import re

from onboarding.applications import operations as ops
from onboarding.applications.models import PERSON, Application
from onboarding.db import db
from onboarding.review import operations as review

from .factories import complete_application, make_applicant, review_team, submit
from .test_applicant_status import EMAIL, sign_in


def timeline_items(page: str) -> list[str]:
    """The timeline's own lines (not the changes inside a disclosure), as words."""
    block = page.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0]
    block = re.sub(r"<details.*?</details>", " ", block, flags=re.S)
    items = re.findall(r"<li\b.*?(?=<li\b|$)", block, flags=re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip() for item in items]


def test_edits_between_milestones_are_one_counted_line_and_each_milestone_its_own(app, client):
    user = make_applicant(EMAIL)
    application = complete_application(user)
    submit(application, user)
    reviewer = review_team()["documents"]
    review.claim(application, reviewer)
    review.request_changes(application, [("ownership", "Add the second director.")], reviewer)
    db.session.commit()
    application = db.session.get(Application, application.id)
    director = next(p for p in application.parties if p.kind == PERSON)
    ops.update_party(application, director, {"title": "Managing Director"})
    db.session.commit()
    submit(application, user)
    sign_in(client)

    page = client.get("/application/status").get_data(as_text=True)
    items = timeline_items(page)
    titles = re.findall(r'<span class="timeline-what">([^<]+)</span>', page)
    titles = [t for t in titles if t != "Automated checks finished"]  # they run after each submission
    # Newest first: the resubmission, the one edit before it, the request, the first submission, and the
    # whole first draft folded into one line.
    assert titles[:5] == ["Application resubmitted", "Person or company changed", "Changes requested",
                          "Application submitted", "Application edited"], items
    # Staff decisions are our team's, whatever recorded them; nobody is named.
    requested = next(item for item in items if item.startswith("Changes requested"))
    assert requested.endswith("our review team") and reviewer.email not in page
    submitted = next(item for item in items if item.startswith("Application submitted"))
    assert submitted.endswith(("you", "your institution")), "the applicant's own step is never 'automatic'"
    assert len(items) <= 8, f"one line per milestone or run of edits, not one per change: {items}"
    first_draft = next(item for item in items if item.startswith("Application edited"))
    parties = application.parties
    people = sum(p.kind == PERSON for p in parties)
    assert f"{people} people added" in first_draft and "documents uploaded" in first_draft
    assert "(s)" not in first_draft
    # Every change is still there, behind "Show the N changes".
    changes = re.search(r"<summary>Show the (\d+) changes</summary>", page)
    assert changes and int(changes.group(1)) >= len(parties)
    assert all(p.name in page for p in parties)
