"""Qualification of a market maker (DESIGN 4.7): the criteria the business team scores and the
access it can grant. One place, so the form, the letter and API keys read the same values."""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = {
    "account:read": "Account data (read)",
    "market:read": "Market data (read)",
    "spot:trade": "Spot trading",
    "margin:trade": "Margin trading",
    "futures:trade": "Futures trading",
}
TRADE_SCOPES = ("spot:trade", "margin:trade", "futures:trade")


@dataclass(frozen=True)
class RateTier:
    code: str
    label: str
    requests_per_second: int
    orders_per_second: int

    @property
    def description(self) -> str:
        return f"{self.label}: {self.requests_per_second} requests/s, {self.orders_per_second} orders/s"


RATE_TIERS = {
    tier.code: tier
    for tier in (
        RateTier("standard", "Standard", 20, 10),
        RateTier("professional", "Professional", 100, 50),
        RateTier("premier", "Premier", 500, 250),
    )
}

DEFAULT_MAX_KEYS = 20
MAX_KEYS_LIMIT = 50


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
