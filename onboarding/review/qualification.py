"""Qualification of a market maker (DESIGN 4.7): the criteria the business team scores. What it can
grant (scopes, rate tiers, key limits) is the institutions part's vocabulary (`institutions.access`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Criterion:
    code: str
    label: str
    # What the reviewer looks at in the applicant's profile.
    guidance: str


CRITERIA = (
    Criterion("experience", "Market-making experience and venues",
              "Years of market making and the venues where the firm quotes today."),
    Criterion("volume", "Traded volume (30 days)", "Volume traded over the last 30 days across venues."),
    Criterion("capital", "Capital", "Capital committed to market making."),
    Criterion("obligations", "Proposed obligations",
              "Pairs, maximum spread, minimum depth and uptime the firm commits to."),
    Criterion("order_rate", "Expected order rate", "Whether the order rate fits the requested tier."),
    Criterion("regulatory", "Regulatory status", "Licence and regulator, or why an unregulated firm is acceptable."),
)
CRITERION_CODES = tuple(c.code for c in CRITERIA)
MAX_SCORE = 5
