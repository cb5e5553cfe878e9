"""Name normalisation for sanctions screening.

A name is case-folded, transliterated from any script to Latin (anyascii, which also strips
accents), stripped of punctuation and, for companies, of legal-form words (LTD, GMBH, S.A., ...)
and a leading THE; whitespace is collapsed. A few Arabic-name conventions are evened out so that
the usual spellings meet: the article AL/EL is dropped and ABD AL / ABDEL / ABDUL are one token.

`skeleton()` is a rough phonetic key (consonants only, with common transliteration pairs folded
together) so that MOHAMMED, MUHAMMAD and MOHAMED, or ALEKSANDR and ALEXANDER, share a key.
"""

from __future__ import annotations

import re
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz.distance import Indel

# Legal-form words, compared after dots are removed (so S.A. is SA, L.L.C. is LLC, CO. is CO).
# They are dropped from company names; a two-letter one only after the first word (SA-ID and
# AS SALAM stay whole). The long ones are recognised with a typo (COMPNAY, LMITED).
LEGAL_FORMS = frozenset({
    "ltd", "limited", "gmbh", "sa", "llc", "inc", "incorporated", "corp", "corporation", "co", "company", "plc",
    "ag", "bv", "nv", "srl", "spa", "sarl", "ooo", "zao", "oao", "pao", "ao", "pjsc", "ojsc", "cjsc", "jsc", "llp",
    "lp", "kg", "oy", "ab", "as", "pte", "pvt", "fze", "fzco", "fzc", "fzllc", "dmcc", "sro", "sas", "bhd", "sdn",
    "kft", "doo", "ood", "eood", "tov", "too", "sl", "sae", "saic", "sal", "wll", "gmbhco", "mbh", "ug", "ltda",
    "eirl", "sapi", "cv", "rl",
})
# Joining words that say nothing about which firm it is (dropped from company names, like THE).
STOP_WORDS = frozenset({"the", "and", "of", "for", "y", "et", "und", "de"})
# Multi-word legal forms, removed as phrases (after dots are removed and the text is lower case).
_LEGAL_PHRASES = re.compile(
    r"\b(?:(?:public|private|closed|open)\s+)?joint[\s-]+stock\s+company\b"
    r"|\blimited\s+liability\s+(?:company|partnership)\b"
    r"|\b(?:s\s*a|s\s*de\s*r\s*l|s\s*a\s*p\s*i)\s+de\s+c\s*v\b"
    r"|\bsociete\s+anonyme\b|\bsociedad\s+anonima\b"
    r"|\bobshchestvo\s+s\s+ogranichenno[iy]\s+otvetstvennostyu\b"
    r"|\b(?:(?:publichnoe|nepublichnoe|otkrytoe|zakrytoe)\s+)?aktsionernoe\s+obshchestvo\b"
)
_LONG_LEGAL_FORMS = ("company", "limited", "corporation", "incorporated", "partnership")
_ARTICLES = frozenset({"al", "el"})
_ABD_FORMS = frozenset({"abd", "abdel", "abdal", "abdul", "abdol", "abdoul", "abdu", "abdil"})

# The commonest Arabic-script name words, in the Latin spelling the lists use most.
_ARABIC_WORDS = {
    "محمد": "muhammad", "محمود": "mahmud", "أحمد": "ahmad", "احمد": "ahmad", "عبد": "abd", "علي": "ali",
    "على": "ali", "حسن": "hasan", "حسين": "husayn", "إبراهيم": "ibrahim", "ابراهيم": "ibrahim", "عمر": "umar",
    "يوسف": "yusuf", "خالد": "khalid", "مصطفى": "mustafa", "عثمان": "uthman", "سعيد": "said", "صالح": "salih",
    "عبدالله": "abdallah", "عبدلله": "abdallah", "الله": "allah", "بن": "bin", "ابو": "abu", "أبو": "abu",
}
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")

_APOSTROPHES = re.compile(r"['`\u2018\u2019\u02bc\u02bb\u02be\u02bf\u00b4]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _arabic_to_latin(text: str) -> str:
    words = []
    for word in text.split():
        if _ARABIC.search(word):
            bare = word[2:] if word.startswith("ال") and len(word) > 3 else word  # the article al-
            words.append(_ARABIC_WORDS.get(word) or _ARABIC_WORDS.get(bare) or bare)
        else:
            words.append(word)
    return " ".join(words)


@lru_cache(maxsize=65536)
def tokens(name: str, kind: str | None = None) -> tuple[str, ...]:
    """The normalised words of a name. Legal-form words are dropped unless `kind` is "person"."""
    if not name:
        return ()
    text = name
    if _ARABIC.search(text):
        text = _arabic_to_latin(text)
    text = anyascii(text).casefold()
    text = _APOSTROPHES.sub("", text).replace(".", "")
    text = _NON_ALNUM.sub(" ", text)
    words = text.split()
    if not words:
        return ()
    if kind != "person":
        stripped = _NON_ALNUM.sub(" ", _LEGAL_PHRASES.sub(" ", " ".join(words))).split()
        kept = [w for i, w in enumerate(stripped)
                if w not in STOP_WORDS and not (is_legal_form(w) and (i > 0 or len(w) > 2))]
        if kept:
            words = kept
    return _even_out_arabic(words)


@lru_cache(maxsize=8192)
def is_legal_form(word: str) -> bool:
    """A legal-form word, or a long one (COMPANY, LIMITED, ...) with a typo."""
    if word in LEGAL_FORMS:
        return True
    if len(word) < 6:
        return False
    return any(word[0] == form[0] and Indel.normalized_similarity(word, form) >= 0.85 for form in _LONG_LEGAL_FORMS)


def _even_out_arabic(words: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    skip_article = False
    for word in words:
        if skip_article and word in _ARTICLES | {"ul", "ar", "as", "ad", "an", "ash", "az", "at"}:
            skip_article = False
            continue
        skip_article = False
        if word in _ABD_FORMS:
            out.append("abdul")
            skip_article = True
            continue
        if word in _ARTICLES:
            continue
        out.append(word)
    if not out:  # a name made only of articles
        return tuple(words)
    return tuple(out)


def normalise(name: str, kind: str | None = None) -> str:
    """The normalised name: its words joined by single spaces."""
    return " ".join(tokens(name, kind))


def normalise_name(name: str, kind: str | None = None) -> str:
    """Alias of `normalise` (case, script, accents, punctuation, legal forms, whitespace)."""
    return normalise(name, kind)


def sorted_key(name: str, kind: str | None = None) -> str:
    """The normalised words in alphabetical order: the same key whatever the word order."""
    return " ".join(sorted(tokens(name, kind)))


def initial_matches(a: str, b: str) -> bool:
    """A single-letter word (an initial) matches any word starting with that letter."""
    if len(a) == 1:
        return b.startswith(a)
    if len(b) == 1:
        return a.startswith(b)
    return a == b


_SKELETON_STEPS = (
    ("dzh", "j"), ("dj", "j"), ("zh", "j"), ("zj", "j"), ("tch", "ch"), ("kh", "h"), ("gh", "g"), ("ph", "f"),
    ("th", "t"), ("dh", "d"), ("x", "ks"), ("q", "k"), ("w", "v"), ("ck", "k"), ("tz", "ts"),
)
_VOWELS = re.compile(r"[aeiouy]+")
_LATIN_VOWELS = re.compile(r"[aeiou]")


def is_vowelless(word: str) -> bool:
    """A word of two or more letters with no vowel (A E I O U): how Arabic script transliterates."""
    return len(word) > 1 and word.isalpha() and not _LATIN_VOWELS.search(word)
_DOUBLES = re.compile(r"(.)\1+")


@lru_cache(maxsize=65536)
def vowel_pattern(word: str) -> str:
    """The word with every vowel (and Y) as "*" and doubled letters collapsed: ALI and ALY agree."""
    return _DOUBLES.sub(r"\1", _VOWELS.sub("*", word))


@lru_cache(maxsize=65536)
def skeleton(word: str) -> str:
    """A rough phonetic key: common transliteration pairs folded together, doubled letters
    collapsed, vowels dropped. MOHAMMED, MUHAMMAD and MHMD all give "mhmd"."""
    key = word
    if len(word) > 1 and not _LATIN_VOWELS.search(word):
        # Written without vowels (transliterated Arabic script: MHMD, NWR): W and Y stand for vowels.
        key = key.replace("w", "u").replace("y", "i")
    for old, new in _SKELETON_STEPS:
        if old in key:
            key = key.replace(old, new)
    if "c" in key:
        key = key.replace("ch", "\x01").replace("c", "k").replace("\x01", "ch")
    if key.endswith("ff"):
        key = key[:-2] + "v"
    key = _VOWELS.sub("", _DOUBLES.sub(r"\1", key))
    return key or word
