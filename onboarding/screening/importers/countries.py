"""Country names and codes as the lists write them ("Korea, North", "Iran (Islamic Republic of)",
"ke"), turned into ISO 3166 alpha-2 codes. Shared by every reader."""

from __future__ import annotations

from functools import lru_cache

import pycountry

_COUNTRY_NAMES = {
    "korea, north": "KP", "north korea": "KP", "democratic people's republic of korea": "KP",
    "korea, south": "KR", "south korea": "KR", "republic of korea": "KR", "burma": "MM", "russia": "RU",
    "russian federation": "RU", "iran": "IR", "iran (islamic republic of)": "IR", "syria": "SY",
    "syrian arab republic": "SY", "venezuela": "VE", "bolivia": "BO", "tanzania": "TZ", "laos": "LA",
    "vietnam": "VN", "viet nam": "VN", "moldova": "MD", "taiwan": "TW", "macau": "MO", "macao": "MO",
    "turkey": "TR", "turkiye": "TR", "kosovo": "XK", "palestinian": "PS", "palestine": "PS",
    "west bank": "PS", "gaza": "PS", "region: gaza": "PS", "state of palestine": "PS",
    "congo, democratic republic of the": "CD", "democratic republic of the congo": "CD",
    "congo, republic of the": "CG", "republic of the congo": "CG", "congo": "CG",
    "cote d ivoire": "CI", "cote d'ivoire": "CI", "ivory coast": "CI", "the gambia": "GM", "gambia": "GM",
    "bahamas, the": "BS", "bahamas": "BS", "man, isle of": "IM", "isle of man": "IM",
    "virgin islands, british": "VG", "british virgin islands": "VG", "czech republic": "CZ", "czechia": "CZ",
    "united states": "US", "united states of america": "US", "usa": "US", "united kingdom": "GB", "uk": "GB",
    "united kingdom of great britain and northern ireland": "GB", "netherlands antilles": "AN",
    "swaziland": "SZ", "cape verde": "CV", "brunei": "BN", "micronesia": "FM", "region: crimea": "UA",
    "crimea": "UA", "holy see": "VA", "vatican": "VA", "east timor": "TL", "macedonia": "MK",
    "north macedonia": "MK", "the former yugoslav republic of macedonia": "MK",
    "macedonia, the former yugoslav republic of": "MK", "sao tome and principe": "ST",
    "saint kitts and nevis": "KN", "saint vincent and the grenadines": "VC", "saint lucia": "LC",
}
_COUNTRY_CODES = {country.alpha_2 for country in pycountry.countries} | {"XK", "AN"}


@lru_cache(maxsize=4096)
def country_code(name: str | None) -> str | None:
    """ISO 3166 alpha-2 code of a country name or code as the lists write it, None if unknown."""
    if not name:
        return None
    text = " ".join(name.replace("\u2019", "'").split()).strip(" .")
    if not text:
        return None
    if len(text) == 2 and text.upper() in _COUNTRY_CODES:
        return text.upper()
    known = _COUNTRY_NAMES.get(text.casefold())
    if known:
        return known
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        pass
    if text.casefold().startswith("the "):
        return country_code(text[4:])
    return None


def country_or_text(name: str | None) -> str | None:
    """The ISO code where known, else the name as written (the model keeps unknown ones as text)."""
    if not name:
        return None
    return country_code(name) or " ".join(name.split())
