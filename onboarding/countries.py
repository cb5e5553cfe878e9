"""Countries by ISO 3166 alpha-2 code, as forms offer them and pages name them. A leaf."""

from __future__ import annotations

import pycountry


def country_name(code: str | None) -> str:
    if not code:
        return ""
    country = pycountry.countries.get(alpha_2=code)
    return getattr(country, "common_name", country.name) if country else code


def countries() -> list[tuple[str, str]]:
    """(code, name) of every country, by name."""
    listed = sorted(pycountry.countries, key=lambda c: getattr(c, "common_name", c.name))
    return [(c.alpha_2, getattr(c, "common_name", c.name)) for c in listed]
