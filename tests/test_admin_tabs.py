"""Every page of the admin console shows its tab bar with the current section marked, the sanctions-lists and
jobs pages (and a sanctions import) included, and their tables are drawn by the one shared macro."""

from __future__ import annotations

import re

import pytest

from onboarding.db import db
from onboarding.screening.lists import import_list

from .test_sanctions_pages import app, sign_in_staff  # noqa: F401 (the page's app fixture)
from .test_sanctions_refresh import OFAC_SAMPLE

TABS = ["Overview", "Staff accounts", "Rule documents", "Service tokens", "Sanctions lists", "Background jobs",
        "Audit log"]


def tab_bar(page: str) -> tuple[list[str], list[str]]:
    """The tabs' labels, and the labels marked as the current page."""
    nav = re.search(r'<nav aria-label="Administration">(.*?)</nav>', page, flags=re.S)
    assert nav, "no admin tab bar on the page"
    links = re.findall(r"<a href=\"[^\"]+\"\s*(aria-current=\"page\")?>([^<]+)</a>", nav.group(1))
    return [label for _, label in links], [label for current, label in links if current]


@pytest.mark.parametrize(("url", "current"), [
    ("/staff/sanctions-lists", "Sanctions lists"), ("/staff/jobs", "Background jobs"), ("/admin/", "Overview"),
    ("/admin/staff", "Staff accounts"),
])
def test_each_admin_page_shows_the_tab_bar_with_its_section_current(app, client, url, current):  # noqa: F811
    sign_in_staff(client)
    page = client.get(url).get_data(as_text=True)
    labels, marked = tab_bar(page)
    assert labels == TABS and marked == [current]
    assert "admin.css" in page, "the tabs' styles are loaded"


def test_an_import_page_marks_the_sanctions_lists_tab(app, client):  # noqa: F811
    snapshot, _ = import_list("ofac-sdn", OFAC_SAMPLE, actor_label="test")
    db.session.commit()
    sign_in_staff(client)
    page = client.get("/staff/sanctions-lists").get_data(as_text=True)
    link = re.search(r'href="(/staff/sanctions-lists/(?:imports|snapshots)/\d+)"', page)
    assert link, page
    assert tab_bar(client.get(link.group(1)).get_data(as_text=True))[1] == ["Sanctions lists"]
    # The tables keep their headings and captions, drawn by the shared macro.
    assert '<caption class="visually-hidden">Snapshots of the lists, newest first</caption>' in page
    assert '<th scope="col" class="num">Entries</th>' in page
    assert snapshot.id
