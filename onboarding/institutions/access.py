"""What API access can be granted (DESIGN 4.7, 4.9): the scopes and the rate tiers, with their labels.
The one vocabulary: the application form, the qualification form, the letter, the checks and the keys
read it from here."""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = {
    "account:read": "Account data (read): balances, orders, trades",
    "market:read": "Market data (read)",
    "spot:trade": "Spot trading",
    "margin:trade": "Margin trading",
    "futures:trade": "Futures trading",
}
# Trading scopes are granted only with an IP allow-list (DESIGN 4.9).
TRADE_SCOPES = ("spot:trade", "margin:trade", "futures:trade")
READ_SCOPES = tuple(code for code in SCOPES if code not in TRADE_SCOPES)


def ordered_scopes(codes) -> list[str]:
    """The known codes among `codes`, in the vocabulary's order (unknown ones dropped)."""
    wanted = set(codes or ())
    return [code for code in SCOPES if code in wanted]


def has_trade_scope(codes) -> bool:
    return bool(set(codes or ()) & set(TRADE_SCOPES))


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
