"""Fuzzy name matching against sanctions lists: one cohesive algorithm (candidate blocking, word
alignment, adjustments and the explanation of each match), kept in one file on purpose: its steps share
the query and alias representations and are tuned together (see bench/bench_screening.py).

`screening.current.current_matcher()` gives a `Matcher` over every name of the current snapshots.

How a name is scored against a list name (both normalised, see normalise.py):
  1. Candidates (blocking): list names holding a word within one edit of a query word (two or
     three for long words; a deletion-neighbourhood index) or with the same sound skeleton, ranked
     by how rare the shared words are; rapidfuzz.process.extract over the whole names when the query
     is one word or few candidates turned up; entries with the same registration number.
  2. Name score: a word alignment. Each query word pairs with at most one list word: exact 1.0, a
     spelling variant or typo by the mean of Jaro-Winkler and Levenshtein (Indel) similarity (pairs
     below MIN_WORD_SIMILARITY count for less and less), the same sound skeleton (MOHAMMED, MUHAMMAD;
     OMAR, UMAR, whose letters differ only in vowels transliterations swap) SKELETON_SIMILARITY, an
     initial INITIAL_SIMILARITY. In a person's name of two words, a word two or more slips off a list
     word counts for less still (KOROLEV, KOROBOV: another family). Words are weighted by length and by
     how rare they are on the lists; words left over count against the score, a list word (a middle
     name) less than a query word. Words run together (BELKAP STEEL) are caught by comparing the names
     without spaces. Whole-string token-sort, token-set and Jaro-Winkler similarities are reported in
     the explanation but do not drive the score: blended in, they rated names sharing a single word
     ("Patrick Powell" against "ZHUWAO, Patrick") above the threshold. A weak alias counts a little
     less.
     Names are compared within their script (normalise.script_of): two Arabic-script names letter by
     letter, an Arabic-script word against a Latin one only if the Latin can be read from the Arabic
     letters (normalise.arabic_spells), Chinese or Korean names syllable by syllable with each one
     counted in full, never Hanzi against Hangul; a long Arabic-script word one letter off, or with its
     article mistyped (ااتميمي for التميمي), is one slip, in the script and against a Latin spelling; a
     Latin name meets an entry's Arabic, Chinese or Korean alias only if the entry has no Latin one. Two
     adjacent letters swapped are one slip (TRANSPOSITION_SIMILARITY), also in candidate generation. A
     person's given name (and the family name of SURNAME, Given) may not be left over, only middle
     names; a patronymic does not pair with a family name, nor SOBOLEVA with SOBOLEV, and two fathers'
     names are compared without their endings (EVGENEVICH is not SERGEYEVICH).
  3. Adjustments: birth date (same date or listed year: up; clearly different year: down),
     nationality / jurisdiction (agree: slightly up; disagree: slightly down), registration number
     (exact match in the same country: strongly up), kind (person vs company: strongly down).
Every match carries an explanation of all of this."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app, has_app_context
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Indel, JaroWinkler, Levenshtein

from .normalise import (
    arabic_article_slips,
    arabic_nearly_spells,
    arabic_spells,
    gendered_forms,
    is_patronymic,
    is_vowelless,
    korean_key,
    letters_alternate,
    patronymic_against_name,
    patronymic_stem,
    script_of,
    skeleton,
    tokens_with_script,
    words_after_article,
)

DEFAULT_THRESHOLD = 0.70

# Word alignment
INITIAL_SIMILARITY = 0.80       # "d" against "dmitry"
SKELETON_SIMILARITY = 0.88      # "mohammed" against "muhammad"
MIN_WORD_SIMILARITY = 0.85      # below this a pair of words counts for less and less...
PARTIAL_WORD_SIMILARITY = 0.66  # ...and below this not at all
SLIPS_PARTIAL_SIMILARITY = 0.76  # ...or below this, for words two or more slips apart (see _credit)
SKELETON_MIN_SPELLING = 0.69    # sound-alike words must still look somewhat alike
EXTRA_LIST_WORD_WEIGHT = 0.40   # a list word the query lacks (a middle name) costs less than an extra query word
TRANSPOSITION_SIMILARITY = 0.90  # two adjacent letters swapped (OMAR, OAMR): one slip, not two
ARABIC_SPELLING_SIMILARITY = 0.95  # a Latin spelling read from the Arabic letters (حسين, HUSSEIN)
CJK_LETTER_COST = 0.34          # each Chinese or Korean letter more, less or other: one in a name is another name
WEAK_ALIAS_FACTOR = 0.92
COMMON_WORD_NAMES = 30          # a word in more list names than this weighs less...
COMMON_WORD_SPAN = 20           # ...down to half at 20 times as many

# Adjustments
BIRTH_DATE_AGREES = 0.10
BIRTH_YEAR_AGREES = 0.05
BIRTH_YEAR_DISAGREES = -0.15
COUNTRY_AGREES = 0.03
COUNTRY_DISAGREES = -0.03
REGISTRATION_AGREES = 0.30
REGISTRATION_FLOOR = 0.85       # same number in the same country: a hit whatever the name
REGISTRATION_DISAGREES = -0.05
KIND_DISAGREES = -0.28          # a person against a company (or the reverse): only near-identical names stay
CRAFT_DISAGREES = -0.15         # a company against a vessel or an aircraft

# Words run together or split apart
JOINED_MIN = 0.88
JOINED_FACTOR = 0.98

# Candidate search
MAX_CANDIDATES = 60
FUZZY_WHEN_FEWER = 3
FUZZY_LIMIT = 10
FUZZY_CUTOFF = 80
MAX_MATCHES = 25

_REGISTRATION_TYPES = frozenset({"registration", "tax", "vat", "lei", "duns", "national_id", "imo"})
_PERSON, _ENTITY = "person", "entity"
_CRAFT = frozenset({"vessel", "aircraft"})
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")
# Scripts whose names are compared in the script itself: a generic romanisation of them loses what
# tells names apart (Arabic's long vowels) or is not the one lists use (Hanzi, Hangul, Kana).
_NATIVE_SCRIPTS = frozenset({"arabic", "han", "hangul", "kana"})
_RELATION_WORDS = frozenset({"abu", "bin", "ibn", "bint", "umm"})  # father of, son of, daughter of, mother of
_CJK_SCRIPTS = frozenset({"han", "hangul", "kana"})
_TRANSLITERATED_SCRIPTS = frozenset({"latin", "cyrillic", "greek", "other", ""})


def registration_key(value: str | None) -> str:
    """A registration number compared on letters and digits only, upper case."""
    return _NOT_ALNUM.sub("", value or "").upper()


@dataclass(frozen=True)
class Match:
    entry_id: int
    snapshot_id: int
    source: str
    external_id: str
    entry_name: str
    matched_alias: str
    kind: str
    score: float
    explanation: dict[str, Any] = field(compare=False)


@dataclass
class ListedEntry:
    """What the matcher needs of a list entry."""

    id: int
    snapshot_id: int
    source: str
    external_id: str
    kind: str
    name: str
    birth_dates: list[str] = field(default_factory=list)
    nationalities: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    identifiers: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.full_dates = {d for d in self.birth_dates if len(d) == 10}
        self.years = {int(d[:4]) for d in self.birth_dates if d[:4].isdigit()}
        self.year_only = {int(d[:4]) for d in self.birth_dates if d[:4].isdigit() and len(d) < 10}
        self.nationality_set = {c.upper() for c in self.nationalities if c}
        self.country_set = {c.upper() for c in self.countries if c}
        self.registrations: dict[str, set[str | None]] = {}
        for identifier in self.identifiers:
            if identifier.get("type") in _REGISTRATION_TYPES:
                key = registration_key(identifier.get("value"))
                if len(key) >= 3:
                    self.registrations.setdefault(key, set()).add(identifier.get("country") or None)
        self.identifier_countries = {c for countries in self.registrations.values() for c in countries if c}


def _native(name: str, script: str, pairs: tuple[tuple[str, str | None], ...]) -> tuple[tuple[str | None, ...], str]:
    """The Arabic-script word behind each word (None for others), and for Chinese, Korean and
    Japanese the name's letters in its script, spaces dropped."""
    arabic = tuple(source for _, source in pairs)
    cjk = "".join(c for c in name if c.isalpha() and script_of(c) == script) if script in _CJK_SCRIPTS else ""
    return arabic, cjk


class _Alias:
    __slots__ = ("entry", "name", "quality", "words", "skeletons", "text", "sorted_text", "nospace", "weights",
                 "script", "arabic", "cjk", "arabic_nospace", "given", "after_article")

    def __init__(self, entry: ListedEntry, name: str, quality: str, pairs: tuple[tuple[str, str | None], ...]):
        self.entry = entry
        self.name = name
        self.quality = quality
        words = tuple(w for w, _ in pairs)
        self.words = words
        self.script = script_of(name)
        self.arabic, self.cjk = _native(name, self.script, pairs)
        self.arabic_nospace = "".join(a or w for a, w in zip(self.arabic, words, strict=True))
        # words that carried the article (AL-TAMIMI): a query word may carry it mistyped (ااتميمي)
        self.after_article = words_after_article(name) & (set(words) | {a for a in self.arabic if a})
        # where the first given name is: after the comma in SURNAME, Given Names, else first
        self.given = len(tokens_with_script(name.split(",")[0], entry.kind)) if "," in name else 0
        if self.given >= len(words):
            self.given = 0
        self.skeletons = tuple(skeleton(w) for w in words)
        self.text = " ".join(words)
        self.sorted_text = " ".join(sorted(words))
        self.nospace = "".join(words)
        self.weights: tuple[float, ...] = ()


def _word_weight(word: str, frequency: int) -> float:
    """Longer words say more (up to 8 letters); words found in many list names (BANK, HOLDING,
    MUHAMMAD) say less, down to half."""
    weight = float(min(len(word), 8))
    if frequency > COMMON_WORD_NAMES:
        weight *= max(0.5, 1 - 0.5 * math.log(frequency / COMMON_WORD_NAMES) / math.log(COMMON_WORD_SPAN))
    return weight


class _Query:
    __slots__ = ("words", "skeletons", "text", "sorted_text", "nospace", "weights", "similarity_cache",
                 "initials", "script", "arabic", "cjk", "arabic_nospace")

    def __init__(self, name: str, pairs: tuple[tuple[str, str | None], ...], weights: tuple[float, ...],
                 initials: bool):
        words = tuple(w for w, _ in pairs)
        self.words = words
        self.script = script_of(name)
        self.arabic, self.cjk = _native(name, self.script, pairs)
        self.arabic_nospace = "".join(a or w for a, w in zip(self.arabic, words, strict=True))
        self.initials = initials and self.script not in _CJK_SCRIPTS
        self.skeletons = tuple(skeleton(w) for w in words)
        self.text = " ".join(words)
        self.sorted_text = " ".join(sorted(words))
        self.nospace = "".join(words)
        self.weights = weights
        self.similarity_cache: dict[tuple[int, str, str | None, bool], tuple[float, str]] = {}


def _word_similarity(a: str, a_skeleton: str, b: str, b_skeleton: str, initials: bool = True) -> tuple[float, str]:
    """How alike two words are: 1.0 the same, INITIAL_SIMILARITY for an initial, otherwise the mean of
    Jaro-Winkler and Levenshtein (Indel) similarity, raised to SKELETON_SIMILARITY for spellings of
    the same sounds (MOHAMMED, MUHAMMAD; ALI, ALY). 0 below PARTIAL_WORD_SIMILARITY."""
    if a == b:
        return 1.0, "exact"
    if len(a) == 1 or len(b) == 1:
        if initials and a[0] == b[0]:
            return INITIAL_SIMILARITY, "initial"
        return 0.0, ""
    if is_patronymic(a) and is_patronymic(b):
        # Two fathers' names: -OVICH and -EVNA alike say nothing, the fathers' names must agree
        # (EVGENEVICH is not SERGEYEVICH, though they share half their letters).
        a, b = patronymic_stem(a), patronymic_stem(b)
        if a == b:
            return 1.0, "exact"
        a_skeleton, b_skeleton = skeleton(a), skeleton(b)
    similarity, how = _spelling_similarity(a, b)
    if similarity < SKELETON_SIMILARITY and min(len(a), len(b)) >= 3:
        if is_vowelless(a) or is_vowelless(b):
            # Transliterated from a script without vowels: only the consonants can agree.
            if a_skeleton == b_skeleton and len(a_skeleton) >= 2:
                similarity, how = SKELETON_SIMILARITY, "sounds alike"
        elif similarity >= SKELETON_MIN_SPELLING and (
                (len(a_skeleton) >= 3 and a_skeleton == b_skeleton and min(len(a), len(b)) >= 4)
                or letters_alternate(a, b)):
            similarity, how = SKELETON_SIMILARITY, "sounds alike"
    if similarity < PARTIAL_WORD_SIMILARITY or patronymic_against_name(a, b) or gendered_forms(a, b):
        return 0.0, ""  # (a father's name is not a family name; SOBOLEVA is not SOBOLEV)
    return similarity, how


def _spelling_similarity(a: str, b: str) -> tuple[float, str]:
    """The mean of Jaro-Winkler and Levenshtein (Indel) similarity; two adjacent letters swapped
    (Damerau's transposition) count as one slip, TRANSPOSITION_SIMILARITY, where Indel sees two edits."""
    similarity = 0.5 * JaroWinkler.normalized_similarity(a, b) + 0.5 * Indel.normalized_similarity(a, b)
    if (similarity < TRANSPOSITION_SIMILARITY and len(a) == len(b) >= 3 and OSA.distance(a, b) == 1
            and Levenshtein.distance(a, b) == 2):
        return TRANSPOSITION_SIMILARITY, "letters swapped"
    return similarity, "spelling"


def _long_vowel_apart(a: str, b: str) -> bool:
    """Two Arabic-script words one long vowel (ا و ي) apart: SALMAN and SULAYMAN, HASAN and HUSAYN,
    another name rather than a slip."""
    shorter, longer = sorted((a, b), key=len)
    if len(longer) != len(shorter) + 1:
        return False
    return any(longer[:k] + longer[k + 1:] == shorter for k, letter in enumerate(longer) if letter in "اوي")


def _arabic_slip_similarity(a: str, b: str) -> float:
    """Two Arabic-script words one letter apart (or a Latin spelling one Arabic letter off): about
    what one slip in a Latin spelling of the word scores, lower the shorter the word (a Latin
    spelling has the vowels Arabic leaves out, so a slip there is a smaller share of the word)."""
    return 1.0 - 1.0 / (max(len(a), len(b)) + 1)


def _pair_similarity(query: _Query, i: int, other: str, other_arabic: str | None,
                     other_article: bool = False) -> tuple[float, str]:
    """How alike query word `i` and a list word are, in the script they were written in: two Arabic
    words letter by letter; an Arabic word and a Latin one by whether the Latin spells the Arabic
    letters; otherwise as Latin words (`_word_similarity`)."""
    key = (i, other, other_arabic, other_article)
    found = query.similarity_cache.get(key)
    if found is not None:
        return found
    mine = query.arabic[i]
    if mine and other_arabic:
        # Arabic words are short and every letter is a consonant or a long vowel: letter by letter
        # (Levenshtein), so SALMAN and SULAYMAN (سلمان, سليمان) stay apart.
        if mine == other_arabic:
            found = (1.0, "exact")
        elif OSA.distance(mine, other_arabic) == 1 < Levenshtein.distance(mine, other_arabic):
            found = (TRANSPOSITION_SIMILARITY, "letters swapped")
        elif _long_vowel_apart(mine, other_arabic):
            found = (0.0, "")
        elif other_article and other_arabic in arabic_article_slips(mine):
            found = (TRANSPOSITION_SIMILARITY, "article mistyped")
        elif Levenshtein.distance(mine, other_arabic) == 1 and min(len(mine), len(other_arabic)) >= 5:
            found = (_arabic_slip_similarity(mine, other_arabic), "one letter off")
        else:
            found = (Levenshtein.normalized_similarity(mine, other_arabic), "spelling")
        if found[0] < PARTIAL_WORD_SIMILARITY:
            found = (0.0, "")
    elif query.script in _CJK_SCRIPTS:
        # A Chinese or Korean name against a Latin one: the syllables read from the script, each the
        # same as a list word (Korean romanisations folded together), since a syllable more or less
        # or another one is another name.
        word = query.words[i]
        if word == other:
            found = (1.0, "exact")
        elif query.script == "hangul" and korean_key(word) == korean_key(other):
            found = (1.0, "romanised alike")
        else:
            found = (0.0, "")
    elif mine or other_arabic:
        arabic, latin = (mine, other) if mine else (other_arabic, query.words[i])
        if arabic_spells(arabic, latin):
            found = (ARABIC_SPELLING_SIMILARITY, "spelled from the Arabic")
        elif query.words[i] == other:  # a relation word (ABDUL, BIN) or the same transliteration
            found = (1.0, "exact")
        elif mine and other_article and any(arabic_spells(word, latin) for word in arabic_article_slips(arabic)):
            found = (TRANSPOSITION_SIMILARITY, "article mistyped")
        elif arabic_nearly_spells(arabic, latin):
            found = (_arabic_slip_similarity(arabic, ""), "spelled from the Arabic, one letter off")
        else:
            found = (0.0, "")
    else:
        found = _word_similarity(query.words[i], query.skeletons[i], other, skeleton(other), query.initials)
    query.similarity_cache[key] = found
    return found


def _credit(similarity: float, slips: int = 1) -> float:
    """What a word pair counts for: its similarity, tapering to nothing below MIN_WORD_SIMILARITY, at
    PARTIAL_WORD_SIMILARITY for one slip and sooner, at SLIPS_PARTIAL_SIMILARITY, for two or more (in
    a person's name of two words): a word two letters off another is as often another name (KOROLEV,
    KOROBOV; MARINA, IRINA) as a typo."""
    if similarity >= MIN_WORD_SIMILARITY:
        return similarity
    floor = PARTIAL_WORD_SIMILARITY if slips <= 1 else SLIPS_PARTIAL_SIMILARITY
    return max(0.0, similarity * (similarity - floor) / (MIN_WORD_SIMILARITY - floor))


def _aligned(query: _Query, alias: _Alias, explain: bool = False, *,
             strict_words: bool = False) -> tuple[float, list[list[Any]]]:
    """Pair query words with list words (greedily, best pairs first) and score the pairing: the
    weighted similarity of the pairs over their weight plus the weight of the words left over (a
    list word left over counts EXTRA_LIST_WORD_WEIGHT as much as a query word). A person's first given
    name left over counts in full: a middle name may be dropped, the given name not (without it, an
    Arabic name is the father's). With `strict_words` (Chinese and Korean names) every list word left
    over counts in full: each syllable is part of the name."""
    pairs = []
    # A person's name of two words is a given name, often shared by many, and a family name: a family
    # name two letters off a listed one is then all the evidence, and as often another family.
    two_word_person = query.initials and len(query.words) <= 2
    for i in range(len(query.words)):
        for j, other in enumerate(alias.words):
            found = _pair_similarity(query, i, other, alias.arabic[j], other in alias.after_article)
            if found[0] > 0:
                credit = found[0]
                if found[1] == "spelling" and credit < MIN_WORD_SIMILARITY:
                    credit = _credit(credit, OSA.distance(query.words[i], other) if two_word_person else 1)
                pairs.append((credit, i, j, found[1], found[0]))
    pairs.sort(reverse=True)
    used_query: set[int] = set()
    used_alias: set[int] = set()
    chosen: list[tuple[float, int, int]] = []
    matched = 0.0
    matched_weight = 0.0
    alignment: list[list[Any]] = []
    for credit, i, j, how, similarity in pairs:
        if i in used_query or j in used_alias:
            continue
        used_query.add(i)
        used_alias.add(j)
        chosen.append((credit, i, j))
        weight = query.weights[i] + alias.weights[j]
        matched += credit * weight
        matched_weight += weight
        if explain:
            alignment.append([i, query.words[i], alias.words[j], round(similarity, 3), how])
    query_weights, alias_weights = query.weights, alias.weights
    if strict_words:  # every syllable of a Chinese or Korean name counts the same, however it is spelled
        query_weights, alias_weights = (1.0,) * len(query.words), (1.0,) * len(alias.words)
        matched = sum(credit * 2.0 for credit, *_ in chosen)
        matched_weight = 2.0 * len(chosen)
    unmatched_query = sum(w for i, w in enumerate(query_weights) if i not in used_query)
    unmatched_alias = sum(w for j, w in enumerate(alias_weights) if j not in used_alias)
    relations = [j for j in range(len(alias.words)) if j not in used_alias and alias.words[j] in _RELATION_WORDS]
    if relations:
        # ABU MARYAM (Maryam's father) is not MARYAM: the relation word left over weighs as much as
        # the name it governs, however common ABU is on the lists.
        unmatched_alias -= sum(alias_weights[j] for j in relations)
        unmatched_query += sum(max(alias_weights[j], alias_weights[min(j + 1, len(alias_weights) - 1)])
                               for j in relations)
    if query.initials and query.script == "arabic" and len(query.words) >= 3 and 0 not in used_query:
        # An Arabic-script name is the person's own name, then the father's and the grandfather's: a
        # list name that meets only the later ones is the father's (SANA SALIH AL-SAYYID is Salih's
        # daughter, not SALAH AL-SAYYID), so the own name left over counts twice.
        unmatched_query += query_weights[0]
    if unmatched_alias and (strict_words or (query.initials and any(j not in used_alias
                                                                     for j in range(alias.given + 1)))):
        whole = query.script in _CJK_SCRIPTS or alias.script in _CJK_SCRIPTS
        # the given name, and the family name of SURNAME, Given Names: only middle names may be dropped
        full = sum(w for j, w in enumerate(alias_weights) if j not in used_alias and (whole or j <= alias.given))
        unmatched_query += full  # counted as a query word left over: in full
        unmatched_alias -= full
    denominator = matched_weight + 2 * unmatched_query + 2 * EXTRA_LIST_WORD_WEIGHT * unmatched_alias
    score = matched / denominator if denominator else 0.0
    if explain:
        alignment.sort()
        alignment = [row[1:] for row in alignment]
        alignment += [[w, None, 0.0, "not in the list name"] for i, w in enumerate(query.words) if i not in used_query]
        alignment += [[None, w, 0.0, "not in the name screened"] for j, w in enumerate(alias.words)
                      if j not in used_alias]
    return score, alignment


def _comparable(query: _Query, alias: _Alias, has_latin_alias: bool) -> bool:
    """Names are compared within a script, or through a Latin spelling; never Hanzi against Hangul or
    Arabic against Cyrillic. A Latin name meets a list entry's Arabic, Chinese or Korean name only
    when the entry has no Latin-script name to meet instead."""
    if query.script == alias.script:
        return True
    if alias.script == "latin" or not alias.script:
        return True
    if query.script in _TRANSLITERATED_SCRIPTS and alias.script in _TRANSLITERATED_SCRIPTS:
        return True
    return query.script == "latin" and not has_latin_alias


def _name_score(query: _Query, alias: _Alias, explain: bool = False) -> tuple[float, dict[str, Any]]:
    """The name score of a list name against the query; with `explain`, also how it came about."""
    detail: dict[str, Any] = {}
    if query.cjk and query.script == alias.script:
        # Chinese, Korean, Japanese in their script: character by character, in order. Each one is a
        # syllable of the name, so one more or less (张伟, 张伟明) is another name.
        aligned = max(0.0, 1.0 - CJK_LETTER_COST * Levenshtein.distance(query.cjk, alias.cjk))
        alignment = [[query.cjk, alias.cjk, round(aligned, 3), "in the script, letter by letter"]] if explain else []
    else:
        strict = query.script in _CJK_SCRIPTS or alias.script in _CJK_SCRIPTS
        aligned, alignment = _aligned(query, alias, explain, strict_words=strict)
    score = aligned
    if len(query.words) != len(alias.words) and not query.cjk:
        # Words run together or split apart (BELKAP STEEL, BEL-KAP-STEEL): compare without spaces.
        if query.script == "arabic" and alias.script == "arabic":
            joined = Indel.normalized_similarity(query.arabic_nospace, alias.arabic_nospace)
        elif query.script in _CJK_SCRIPTS:  # the same syllables, however they are spaced
            joined = float(korean_key(query.nospace) == korean_key(alias.nospace)) if query.script == "hangul" \
                else float(query.nospace == alias.nospace)
        else:
            joined = Indel.normalized_similarity(query.nospace, alias.nospace)
        if explain:
            detail["joined"] = round(joined, 3)
        if joined >= JOINED_MIN and joined * JOINED_FACTOR > score:
            score = joined * JOINED_FACTOR
    if alias.quality == "weak":
        score *= WEAK_ALIAS_FACTOR
        if explain:
            detail["weak_alias_factor"] = WEAK_ALIAS_FACTOR
    if explain:
        detail["aligned"] = round(aligned, 3)
        detail["words"] = alignment
    return score, detail


def name_score(name: str, listed_name: str, kind: str = _PERSON) -> float:
    """The name score of `name` against one list name, as screening computes it, without the
    candidate search and the birth-date, country and registration adjustments."""
    entry = ListedEntry(id=0, snapshot_id=0, source="", external_id="", kind=kind, name=listed_name)
    query_pairs, listed_pairs = tokens_with_script(name or "", kind), tokens_with_script(listed_name or "", kind)
    if not query_pairs or not listed_pairs:
        return 0.0
    alias = _Alias(entry, listed_name, "strong", listed_pairs)
    alias.weights = tuple(_word_weight(w, 1) for w in alias.words)
    query = _Query(name, query_pairs, tuple(_word_weight(w, 1) for w, _ in query_pairs), initials=kind == _PERSON)
    if not _comparable(query, alias, alias.script == "latin"):
        return 0.0
    return _name_score(query, alias)[0]


def _string_measures(query: _Query, alias: _Alias) -> dict[str, float]:
    """Whole-string similarities, shown in the explanation next to the word alignment."""
    return {
        "token_sort": round(fuzz.token_sort_ratio(query.text, alias.text) / 100, 3),
        "token_set": round(fuzz.token_set_ratio(query.text, alias.text) / 100, 3),
        "jaro_winkler": round(JaroWinkler.normalized_similarity(query.sorted_text, alias.sorted_text), 3),
    }


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Matcher:
    """An in-memory index of list names. Build it with `current_matcher()` (cached) or from
    entries and names directly (tests, benchmarks)."""

    def __init__(self, entries: Iterable[ListedEntry], aliases: Iterable[tuple[int, str, str]],
                 key: Any = None):
        self.key = key
        self.entries: dict[int, ListedEntry] = {entry.id: entry for entry in entries}
        self.aliases: list[_Alias] = []
        seen: set[tuple[int, str]] = set()
        for entry_id, name, quality in aliases:
            entry = self.entries.get(entry_id)
            if entry is None:
                continue
            pairs = tokens_with_script(name, entry.kind)
            key = " ".join(w for w, _ in pairs) + "|" + script_of(name)
            if not pairs or (entry_id, key) in seen:
                continue
            seen.add((entry_id, key))
            self.aliases.append(_Alias(entry, name, quality, pairs))
        # entries with a name in Latin letters: a Latin query meets that one, not the name in Arabic
        self._has_latin_alias = {alias.entry.id for alias in self.aliases if alias.script == "latin"}
        # word -> the names holding it; a word's deletion neighbourhood and skeleton -> words
        self._postings: dict[str, list[int]] = {}
        for index, alias in enumerate(self.aliases):
            for word in set(alias.words):
                self._postings.setdefault(word, []).append(index)
        self._near: dict[str, set[str]] = {}
        for word in self._postings:
            if len(word) < 2:
                continue
            self._near.setdefault(word, set()).add(word)
            self._near.setdefault("~" + skeleton(word), set()).add(word)
            if len(word) >= 4:
                for deleted in _deletions(word):
                    self._near.setdefault(deleted, set()).add(word)
        for alias in self.aliases:
            alias.weights = tuple(_word_weight(w, len(self._postings[w])) for w in alias.words)
        total = max(len(self.aliases), 1)
        self._idf = {word: math.log(1 + total / len(postings)) for word, postings in self._postings.items()}
        self._nospace = [alias.nospace for alias in self.aliases]
        self._by_registration: dict[str, list[int]] = {}
        self._first_alias: dict[int, int] = {}
        for index, alias in enumerate(self.aliases):
            self._first_alias.setdefault(alias.entry.id, index)
        for entry in self.entries.values():
            if entry.id in self._first_alias:
                for number in entry.registrations:
                    self._by_registration.setdefault(number, []).append(entry.id)

    def __len__(self) -> int:
        return len(self.aliases)

    # -- candidates --------------------------------------------------------------------------

    def _similar_words(self, query: _Query, position: int) -> list[tuple[str, float]]:
        """List words that pair with the query word at `position` (typos, spellings, same word)."""
        word = query.words[position]
        keys = {word, "~" + query.skeletons[position]}
        # adjacent letters swapped (OAMR, MDITRY): the words they would be
        keys |= {word[:k] + word[k + 1] + word[k] + word[k + 2:] for k in range(len(word) - 1)}
        if len(word) >= 4:
            deletions = _deletions(word)
            keys |= deletions
            if len(word) >= 8:
                for deleted in deletions:
                    keys |= _deletions(deleted)
        found: set[str] = set()
        for key in keys:
            words = self._near.get(key)
            if words:
                found |= words
        similar = []
        arabic = query.arabic[position]
        for other in found:
            similarity, _ = _word_similarity(word, query.skeletons[position], other, skeleton(other), query.initials)
            if arabic and arabic_spells(arabic, other):
                similarity = max(similarity, ARABIC_SPELLING_SIMILARITY)
            if similarity >= MIN_WORD_SIMILARITY:
                similar.append((other, similarity))
        return similar

    def _candidates(self, query: _Query, registration: str) -> set[int]:
        evidence: dict[int, float] = {}
        for position, word in enumerate(query.words):
            if len(word) < 2:
                continue
            for other, similarity in self._similar_words(query, position):
                gain = similarity * self._idf[other]
                for index in self._postings[other]:
                    evidence[index] = evidence.get(index, 0.0) + gain
        if len(evidence) > MAX_CANDIDATES:
            chosen = set(sorted(evidence, key=evidence.__getitem__, reverse=True)[:MAX_CANDIDATES])
        else:
            chosen = set(evidence)
        if len(query.words) == 1 or len(chosen) < FUZZY_WHEN_FEWER:
            # Typos in every word, or words run together: look at whole strings too.
            for _, _, index in process.extract(query.nospace, self._nospace, scorer=fuzz.ratio,
                                               limit=FUZZY_LIMIT, score_cutoff=FUZZY_CUTOFF):
                chosen.add(index)
        if registration:
            for entry_id in self._by_registration.get(registration, ()):
                chosen.add(self._first_alias[entry_id])
        return chosen

    # -- screening ---------------------------------------------------------------------------

    def screen(self, name: str, *, kind: str = _PERSON, birth_date: date | None = None,
               nationality: str | None = None, jurisdiction: str | None = None,
               registration_number: str | None = None, threshold: float | None = None) -> list[Match]:
        """List entries whose names match `name` with a score of at least `threshold` (default: the
        app's SCREENING_THRESHOLD, else 0.70), best first, one match per entry."""
        if threshold is None:
            threshold = _configured_threshold()
        pairs = tokens_with_script(name or "", kind)
        if not pairs:
            return []
        query = _Query(name, pairs, tuple(_word_weight(w, len(self._postings.get(w, ()))) for w, _ in pairs),
                       initials=kind == _PERSON)
        registration = registration_key(registration_number)
        nationality = (nationality or "").strip().upper() or None
        jurisdiction = (jurisdiction or "").strip().upper() or None
        best: dict[int, tuple[float, _Alias]] = {}
        for index in self._candidates(query, registration):
            alias = self.aliases[index]
            if not _comparable(query, alias, alias.entry.id in self._has_latin_alias):
                continue
            score, _ = _name_score(query, alias)
            current = best.get(alias.entry.id)
            if current is None or score > current[0]:
                best[alias.entry.id] = (score, alias)
        matches = []
        # Adjustments add at most `reach`, so names further below the threshold cannot reach it.
        reach = ((REGISTRATION_AGREES if registration else 0.0) + (BIRTH_DATE_AGREES if birth_date else 0.0)
                 + (COUNTRY_AGREES if nationality or jurisdiction else 0.0))
        for entry_id, (name_score, alias) in best.items():
            entry = self.entries[entry_id]
            if name_score + reach < threshold and not (registration and registration in entry.registrations):
                continue
            score, results = _assess(name_score, entry, kind=kind, birth_date=birth_date, nationality=nationality,
                                     jurisdiction=jurisdiction, registration=registration)
            if score < threshold:
                continue
            _, detail = _name_score(query, alias, explain=True)
            matches.append(Match(
                entry_id=entry.id, snapshot_id=entry.snapshot_id, source=entry.source, external_id=entry.external_id,
                entry_name=entry.name, matched_alias=alias.name, kind=entry.kind, score=round(score, 4),
                explanation=_explain(score, name_score, detail, alias, entry, results, query, name, kind),
            ))
        matches.sort(key=lambda m: (-m.score, m.entry_name))
        return matches[:MAX_MATCHES]


def _configured_threshold() -> float:
    if has_app_context():
        return float(current_app.config.get("SCREENING_THRESHOLD", DEFAULT_THRESHOLD))
    return DEFAULT_THRESHOLD


def _compare_birth_date(birth_date: date | None, entry: ListedEntry) -> tuple[str, float]:
    if birth_date is None or not entry.years:
        return "not compared", 0.0
    if birth_date.isoformat() in entry.full_dates:
        return "agrees", BIRTH_DATE_AGREES
    if birth_date.year in entry.year_only:
        return "year agrees", BIRTH_YEAR_AGREES
    nearest = min(abs(birth_date.year - year) for year in entry.years)
    if nearest == 0:
        return "same year, different day", 0.0
    if nearest == 1:
        return "close (one year apart)", 0.0
    return "disagrees", BIRTH_YEAR_DISAGREES


def _compare_country(code: str | None, listed: set[str]) -> tuple[str, float]:
    if not code or not listed:
        return "not compared", 0.0
    if code in listed:
        return "agrees", COUNTRY_AGREES
    return "disagrees", COUNTRY_DISAGREES


def _compare_registration(number: str, country: str | None, entry: ListedEntry) -> tuple[str, float]:
    if not number or not entry.registrations:
        return "not compared", 0.0
    countries = entry.registrations.get(number)
    if countries is not None:
        if country is None or None in countries or country in countries:
            return "agrees", REGISTRATION_AGREES
        return "same number, other country", 0.0
    if country and country in entry.identifier_countries:
        return "disagrees", REGISTRATION_DISAGREES
    return "not compared", 0.0


def _compare_kind(kind: str, listed: str) -> tuple[str, float]:
    if listed not in (_PERSON, _ENTITY) and listed not in _CRAFT:
        return "not compared", 0.0
    if kind == listed:
        return "agrees", 0.0
    if kind == _ENTITY and listed in _CRAFT:
        return "disagrees", CRAFT_DISAGREES
    return "disagrees", KIND_DISAGREES


def _assess(name_score: float, entry: ListedEntry, *, kind: str, birth_date: date | None,
            nationality: str | None, jurisdiction: str | None,
            registration: str) -> tuple[float, dict[str, tuple[str, float]]]:
    """The score after the adjustments, and each field's result and adjustment."""
    results: dict[str, tuple[str, float]] = {"kind": _compare_kind(kind, entry.kind)}
    if kind == _PERSON:
        results["birth_date"] = _compare_birth_date(birth_date, entry)
        results["nationality"] = _compare_country(nationality, entry.nationality_set or entry.country_set)
        if jurisdiction:
            results["jurisdiction"] = _compare_country(jurisdiction, entry.country_set | entry.nationality_set)
    else:
        home = entry.country_set | entry.nationality_set | entry.identifier_countries
        results["jurisdiction"] = _compare_country(jurisdiction, home)
        if nationality:
            results["nationality"] = _compare_country(nationality, home)
        if birth_date is not None:
            results["birth_date"] = _compare_birth_date(birth_date, entry)
    results["registration_number"] = _compare_registration(registration, jurisdiction or nationality, entry)

    score = name_score + sum(delta for _, delta in results.values())
    if results["registration_number"][0] == "agrees" and jurisdiction and results["kind"][1] == 0:
        score = max(score, REGISTRATION_FLOOR)
    return min(max(score, 0.0), 1.0), results


def _explain(score: float, name_score: float, detail: dict[str, Any], alias: _Alias, entry: ListedEntry,
             results: dict[str, tuple[str, float]], query: _Query, name: str, kind: str) -> dict[str, Any]:
    explanation: dict[str, Any] = {
        "score": round(score, 4),
        "name": round(name_score, 4),
        "matched_alias": alias.name,
        "alias_quality": alias.quality,
    }
    for field_name, (result, _) in results.items():
        explanation[field_name] = result
    explanation["agreed"] = [f for f, (result, _) in results.items() if result in ("agrees", "year agrees")]
    explanation["disagreed"] = [f for f, (result, _) in results.items() if result == "disagrees"]
    explanation["adjustments"] = {f: round(delta, 3) for f, (_, delta) in results.items() if delta}
    explanation["listed"] = {
        "kind": entry.kind, "birth_dates": entry.birth_dates, "nationalities": entry.nationalities,
        "countries": entry.countries,
    }
    explanation["query"] = {"name": name, "normalised": query.text, "kind": kind}
    explanation["name_detail"] = {"alias_normalised": alias.text, **detail, **_string_measures(query, alias)}
    return explanation
