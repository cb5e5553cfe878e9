"""Name normalisation for sanctions screening.

A name is case-folded, transliterated from any script to Latin (anyascii, which also strips
accents), stripped of punctuation and, for companies, of legal-form words (LTD, GMBH, S.A., ...)
and a leading THE; whitespace is collapsed. A few Arabic-name conventions are evened out so that
the usual spellings meet: the article AL/EL is dropped and ABD AL / ABDEL / ABDUL are one token.

`skeleton()` is a rough phonetic key (consonants only, with common transliteration pairs folded
together) so that MOHAMMED, MUHAMMAD and MOHAMED, or ALEKSANDR and ALEXANDER, share a key.

Scripts: `script_of()` says which script a name is written in, so that the matcher compares names
within a script and does not, for instance, compare a Chinese (Hanzi) name with a Korean (Hangul) one
through two unrelated romanisations. Arabic script is transliterated letter by letter, long vowels
kept (ا a, و u, ي i): Arabic writes no short vowels, so reducing it to consonants (as a generic
transliteration does) makes HASAN, HUSAYN and HASIN one name. `arabic_spells()` then says whether a
Latin spelling can be read from the Arabic letters (short vowels may be added, doubled letters
written, never a long vowel or a consonant invented). Chinese and Korean names, written without
spaces, are split into the family name and the given name.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

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

# Words that stand for a relation rather than a name (son of, father of, servant of): compared as Latin.
_ARABIC_FUNCTION_WORDS = frozenset({"abd", "bin", "ibn", "bint", "abu", "allah", "abdallah"})
# Arabic letters as Latin, long vowels kept; letters with no Latin letter (ayn, hamza) left out.
_ARABIC_LETTERS = {
    "ا": "a", "ب": "b", "ت": "t", "ث": "th", "ج": "j", "ح": "h", "خ": "kh", "د": "d", "ذ": "dh", "ر": "r", "ز": "z",
    "س": "s", "ش": "sh", "ص": "s", "ض": "d", "ط": "t", "ظ": "z", "ع": "", "غ": "gh", "ف": "f", "ق": "q", "ك": "k",
    "ل": "l", "م": "m", "ن": "n", "ه": "h", "ة": "a", "و": "u", "ي": "i", "ى": "a", "ء": "", "پ": "p", "چ": "ch",
    "ژ": "zh", "گ": "g", "ڤ": "v",
}
# The same letters in a Latin spelling: every way lists write them. Short vowels are not written in
# Arabic, so a Latin vowel may stand alone between them (see arabic_spells).
_ARABIC_SPELLINGS = {
    "ا": ("a", "aa", "e"), "ب": ("b", "p"), "ت": ("t",), "ث": ("th", "s", "t"), "ج": ("j", "g", "dj", "dzh", "zh"),
    "ح": ("h",), "خ": ("kh", "h", "ch", "x"), "د": ("d",), "ذ": ("dh", "z", "d", "th"), "ر": ("r",),
    "ز": ("z", "s"), "س": ("s",), "ش": ("sh", "ch", "sch", "s"), "ص": ("s",), "ض": ("d", "dh", "z"), "ط": ("t",),
    "ظ": ("z", "dh"), "ع": ("", "a", "e", "i", "o", "u", "aa"), "غ": ("gh", "g"), "ف": ("f", "ph"),
    "ق": ("q", "k", "g"), "ك": ("k", "c", "ck"), "ل": ("l",), "م": ("m",), "ن": ("n",), "ه": ("h",),
    "ة": ("a", "ah", "at", "e", "eh", ""), "و": ("w", "u", "o", "ou", "oo", "v", "uu"),
    "ي": ("y", "i", "e", "ee", "ei", "ie", "ii", "ey"), "ى": ("a", "i", "y", "e", "aa"),
    "ء": ("", "a", "e", "i", "u"), "پ": ("p",), "چ": ("ch",), "ژ": ("zh", "j"), "گ": ("g",), "ڤ": ("v",),
}
_ARABIC_INITIAL_ALEF = ("a", "e", "i", "o", "u")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ی": "ي", "ې": "ي", "ے": "ي", "ک": "ك",
                              "ۀ": "ه", "ہ": "ه", "ھ": "ه", "ؤ": "و", "ئ": "ي", "ـ": None})
_ARABIC_MARKS = re.compile(r"[\u064b-\u065f\u0670\u06d6-\u06ed]")
_NOT_ARABIC_LETTER = re.compile(r"[^\u0621-\u064a\u0671-\u06d3\u06fa-\u06ff]+")
_LATIN_VOWEL_LETTERS = frozenset("aeiou")

_APOSTROPHES = re.compile(r"['`\u2018\u2019\u02bc\u02bb\u02be\u02bf\u00b4]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


_SCRIPT_RANGES = (
    (0x0250, "latin"), (0x0370, "other"), (0x0400, "greek"), (0x0530, "cyrillic"), (0x0600, "other"),
    (0x0780, "arabic"), (0x08A0, "other"), (0x0900, "arabic"), (0x1100, "other"), (0x1200, "hangul"),
    (0x1E00, "other"), (0x1F00, "latin"), (0x3040, "other"), (0x3100, "kana"), (0x3130, "other"),
    (0x3190, "hangul"), (0x3400, "other"), (0x4DC0, "han"), (0x4E00, "other"), (0xA000, "han"),
    (0xAC00, "other"), (0xD7B0, "hangul"), (0xF900, "other"), (0xFB00, "han"), (0xFB50, "other"),
    (0xFE00, "arabic"), (0xFE70, "other"), (0xFF00, "arabic"), (0x20000, "other"),
)


def _script_of_letter(letter: str) -> str:
    code = ord(letter)
    for end, script in _SCRIPT_RANGES:
        if code < end:
            return script
    return "han"  # CJK extension planes


@lru_cache(maxsize=65536)
def script_of(name: str) -> str:
    """The script most letters of the name are written in: latin, arabic, cyrillic, greek, han,
    hangul, kana or other ("" for a name without letters)."""
    counts: dict[str, int] = {}
    for letter in name or "":
        if letter.isalpha():
            script = _script_of_letter(letter)
            counts[script] = counts.get(script, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else ""


def arabic_letters(word: str) -> str:
    """An Arabic-script word with its spelling evened out: vowel marks and tatweel dropped, the forms
    of alef, ya, kaf and ha (Arabic and Persian) folded together, anything not an Arabic letter dropped."""
    return _NOT_ARABIC_LETTER.sub("", _ARABIC_MARKS.sub("", word).translate(_ARABIC_FOLD))


def _arabic_word_to_latin(word: str) -> str:
    """Letter by letter; a word-initial waw or ya is the consonant (W, Y), elsewhere the long vowel."""
    out = []
    for i, letter in enumerate(word):
        if i == 0 and letter == "و":
            out.append("w")
        elif i == 0 and letter == "ي":
            out.append("y")
        else:
            out.append(_ARABIC_LETTERS.get(letter, ""))
    return "".join(out)


def _arabic_words(word: str) -> list[str]:
    """An Arabic-script word, evened out and without the article (ال); a run-together ABD AL-X
    (عبدالرحمن) is split like the written-apart one."""
    bare = arabic_letters(word)
    if bare.startswith("عبدال") and len(bare) > 6 and bare != "عبدالله":
        return ["عبد", bare[5:]]
    if bare.startswith("ال") and len(bare) > 3 and bare != "الله":
        return [bare[2:]]
    return [bare] if bare else []


def _latin_words(text: str) -> list[str]:
    text = anyascii(text).casefold()
    text = _APOSTROPHES.sub("", text).replace(".", "")
    return _NON_ALNUM.sub(" ", text).split()


_CHINESE_COMPOUND_FAMILY_NAMES = frozenset({"欧阳", "司马", "诸葛", "上官", "司徒", "东方", "皇甫", "尉迟", "公孙",
                                           "慕容", "令狐", "长孙", "夏侯", "歐陽", "司馬", "諸葛"})
# Korean family names in the spelling lists use (a generic romanisation gives GIM, I, BAG).
_KOREAN_FAMILY_NAMES = {
    "김": "kim", "이": "lee", "리": "ri", "박": "park", "최": "choi", "정": "jung", "강": "kang", "조": "cho",
    "윤": "yoon", "임": "lim", "오": "oh", "신": "shin", "권": "kwon", "안": "ahn", "류": "ryu", "유": "yoo",
    "문": "moon", "노": "noh", "배": "bae", "백": "baek", "고": "ko", "우": "woo",
}


def _cjk_words(word: str, script: str) -> list[str]:
    """A Chinese or Korean name written without spaces: the family name, then the given name
    (Chinese: its syllables run together, ZHANG XIUYING; Korean: one word a syllable, KIM JONG UN)."""
    if script == "han":
        family = 2 if word[:2] in _CHINESE_COMPOUND_FAMILY_NAMES and len(word) > 2 else 1
        return _latin_words(word[:family]) + ["".join(_latin_words(word[family:]))] if len(word) > family \
            else _latin_words(word)
    first = _KOREAN_FAMILY_NAMES.get(word[0]) or "".join(_latin_words(word[0]))
    return [first] + ["".join(_latin_words(syllable)) for syllable in word[1:]]


@lru_cache(maxsize=65536)
def tokens_with_script(name: str, kind: str | None = None) -> tuple[tuple[str, str | None], ...]:
    """The normalised words of a name (see `tokens`), each with the Arabic-script word it was
    transliterated from (evened out, see `arabic_letters`), or None."""
    if not name:
        return ()
    pairs: list[tuple[str, str | None]] = []
    words = name.split()
    if len(words) > 1 and script_of(name) in ("han", "hangul") and all(
            script_of(c) == script_of(name) for c in name if c.isalpha()):
        words = ["".join(words)]  # 张 伟, 김 민준: a Chinese or Korean name is one word
    for word in words:
        script = script_of(word)
        if script == "arabic":
            for bare in _arabic_words(word):
                latin = _ARABIC_WORDS.get(word) or _ARABIC_WORDS.get(bare) or _arabic_word_to_latin(bare)
                if latin:
                    pairs.append((latin, bare))
        elif script in ("han", "hangul") and len(word) > 1 and script_of(word[1:]) == script:
            pairs += [(w, None) for w in _cjk_words(word, script) if w]
        else:
            pairs += [(w, None) for w in _latin_words(word)]
    if not pairs:
        return ()
    if kind != "person":
        if any(source is None for _, source in pairs):
            text = " ".join(w for w, source in pairs if source is None)
            remaining = set(_NON_ALNUM.sub(" ", _LEGAL_PHRASES.sub(" ", text)).split())
            pairs = [(w, source) for w, source in pairs if source is not None or w in remaining]
        kept = [(w, source) for i, (w, source) in enumerate(pairs)
                if w not in STOP_WORDS and not (is_legal_form(w) and (i > 0 or len(w) > 2))]
        if kept:
            pairs = kept
    return _even_out_arabic(pairs)


@lru_cache(maxsize=65536)
def tokens(name: str, kind: str | None = None) -> tuple[str, ...]:
    """The normalised words of a name. Legal-form words are dropped unless `kind` is "person"."""
    return tuple(w for w, _ in tokens_with_script(name, kind))


@lru_cache(maxsize=262144)
def arabic_spells(arabic: str, latin: str) -> bool:
    """Whether `latin` is a spelling of the Arabic-script word (evened out): every Arabic letter
    written in one of its Latin spellings, in order; in between only what Arabic does not write: a
    single short vowel, a doubled letter (shadda). HASAN and HASSAN spell حسن, HUSAYN does not."""
    if not arabic or not latin or arabic in _ARABIC_FUNCTION_WORDS:
        return False

    @cache
    def match(i: int, j: int, after_vowel: bool) -> bool:
        if i == len(arabic):
            rest = latin[j:]
            # a final short A or E (TAHA); a final I or U is a letter Arabic writes (MANSURI, منصوري)
            return rest == "" or (rest in ("a", "e") and not after_vowel)
        if j < len(latin):
            letter = latin[j]
            if letter in _LATIN_VOWEL_LETTERS and not after_vowel and j > 0 and match(i, j + 1, True):
                return True  # a short vowel (never first: a word starting with a vowel writes it, ا or ع)
            if j > 0 and letter == latin[j - 1] and match(i, j + 1, after_vowel):
                return True  # a doubled letter
        if i == 0 and arabic[0] in "اع":  # a word-initial alef or ayn is written as a vowel (AHMAD, UMAR)
            options: tuple[str, ...] = _ARABIC_INITIAL_ALEF
        else:
            options = _ARABIC_SPELLINGS.get(arabic[i], ("",))
        if i == len(arabic) - 1 and arabic[i] == "ه":
            options = ("h", "")  # a final ha is often not written (ABDULLA, TAHA)
        for option in options:
            if latin.startswith(option, j) and (option or i + 1 <= len(arabic)):
                if match(i + 1, j + len(option), False):
                    return True
        return False

    return match(0, 0, False)


# Latin spellings of the Arabic consonants (not the long vowels, ayn, hamza or ta marbuta, which a
# Latin spelling may write as a vowel or leave out): what a wrong, missing or extra letter may be.
_ARABIC_CONSONANT_SPELLINGS = frozenset(
    option for letter, options in _ARABIC_SPELLINGS.items() if letter not in "اويىةعء" for option in options
    if option and option not in ("e", "i", "u", "o"))


@lru_cache(maxsize=262144)
def arabic_nearly_spells(arabic: str, latin: str) -> bool:
    """Whether `latin` spells the Arabic-script word (evened out) but for one consonant in the Arabic
    wrong, missing or extra (النين for الزين, ZAYN). A long vowel more or less is another name
    (SALMAN, SULAYMAN), and so is a slip in a word of fewer than five letters (حسن, حسم; حداد, حماد)."""
    if len(arabic) < 5 or not latin or arabic in _ARABIC_FUNCTION_WORDS:
        return False

    def spellings(i: int) -> tuple[str, ...]:
        if i == 0 and arabic[0] in "اع":
            return _ARABIC_INITIAL_ALEF
        if i == len(arabic) - 1 and arabic[i] == "ه":
            return ("h", "")
        return _ARABIC_SPELLINGS.get(arabic[i], ("",))

    @cache
    def match(i: int, j: int, after_vowel: bool, slip: bool) -> bool:
        if i == len(arabic):
            rest = latin[j:]
            if rest == "" or (rest in ("a", "e") and not after_vowel):
                return True
            return slip and rest in _ARABIC_CONSONANT_SPELLINGS  # the last consonant missing
        if j < len(latin):
            letter = latin[j]
            if letter in _LATIN_VOWEL_LETTERS and not after_vowel and j > 0 and match(i, j + 1, True, slip):
                return True
            if j > 0 and letter == latin[j - 1] and match(i, j + 1, after_vowel, slip):
                return True
        for option in spellings(i):
            if latin.startswith(option, j) and match(i + 1, j + len(option), False, slip):
                return True
        if not slip or i == 0:  # (a first letter wrong is another name: HAMID, MAJID)
            return False
        consonant = arabic[i] not in "اويىةعء"
        if consonant and match(i + 1, j, after_vowel, False):  # a consonant too many
            return True
        for length in (1, 2, 3):
            chunk = latin[j:j + length]
            if len(chunk) == length and chunk in _ARABIC_CONSONANT_SPELLINGS and (
                    (consonant and match(i + 1, j + length, False, False))  # a consonant wrong
                    or match(i, j + length, False, False)):  # a consonant missing
                return True
        return False

    return match(0, 0, False, True)


_LATIN_ARTICLE = re.compile(r"(?:^|[^a-z])(?:al|el)[\s-]+([a-z]+)")


@lru_cache(maxsize=65536)
def words_after_article(name: str) -> frozenset[str]:
    """The words of a name that carried the Arabic article (AL-TAMIMI, التميمي), as `tokens_with_script`
    gives them (Latin words; Arabic-script words evened out, without the article)."""
    found = set()
    for word in name.split():
        if script_of(word) == "arabic":
            bare = arabic_letters(word)
            if bare.startswith("ال") and len(bare) > 3 and bare != "الله":
                found.add(bare[2:])
    latin = _APOSTROPHES.sub("", anyascii(name).casefold())
    found.update(_LATIN_ARTICLE.findall(latin))
    return frozenset(found)


def arabic_article_slips(word: str) -> tuple[str, ...]:
    """An Arabic-script word (evened out) that starts with the article ال but for one slip (ااتميمي,
    لاتميمي, احللبي for التميمي, الحلبي): the words it may stand for, without the article."""
    if len(word) < 5 or word.startswith("ال"):
        return ()
    found = set()
    if word[0] == "ا" or word[1] == "ل" or word[:2] == "لا":  # a letter of the article wrong, or the two swapped
        found.add(word[2:])
    if word[0] == "ا" and word[2] == "ل":  # the L swapped with the word's first letter
        found.add(word[1] + word[3:])
    return tuple(sorted(found))


@lru_cache(maxsize=8192)
def is_legal_form(word: str) -> bool:
    """A legal-form word, or a long one (COMPANY, LIMITED, ...) with a typo."""
    if word in LEGAL_FORMS:
        return True
    if len(word) < 6:
        return False
    return any(word[0] == form[0] and Indel.normalized_similarity(word, form) >= 0.85 for form in _LONG_LEGAL_FORMS)


_PATRONYMIC_ENDINGS = ("ovich", "evich", "ovitch", "evitch", "ovitj", "evitj", "ovych", "ovna", "evna", "ichna")


_FAMILY_OR_GIVEN_ENDINGS = ("ov", "ev", "ova", "eva", "in", "ina", "yn", "yna", "iy", "ya", "ia", "ij", "sky", "skiy",
                            "skaya", "a")


def is_patronymic(word: str) -> bool:
    """A Russian (Ukrainian, Belarusian) father's name: IVANOVICH, PETROVNA, ILYICH."""
    return len(word) > 6 and word.endswith(_PATRONYMIC_ENDINGS)


def patronymic_against_name(a: str, b: str) -> bool:
    """One word a father's name, the other a family or given name built on the same stem
    (ALEKSANDROVICH, ALEKSANDROV; VIKTOROVNA, VIKTORIYA): not the same word. A patronymic with a typo
    in its ending (ALEKSANDROVCIH) ends like neither, and is left to the spelling comparison."""
    if is_patronymic(a) == is_patronymic(b):
        return False
    patronymic, other = (a, b) if is_patronymic(a) else (b, a)
    # (a word as long as the patronymic, or nearly, is the patronymic mistyped: IVANOVIC, IVANOVICS)
    return other.endswith(_FAMILY_OR_GIVEN_ENDINGS) or (
        patronymic.startswith(other[:-1]) and len(patronymic) - len(other) >= 3)


def patronymic_stem(word: str) -> str:
    """A patronymic without its ending: the father's name (EVGENEVICH: EVGEN, SERGEYEVNA: SERGEY)."""
    for ending in sorted(_PATRONYMIC_ENDINGS, key=len, reverse=True):
        if word.endswith(ending):
            return word[:-len(ending)]
    return word


def gendered_forms(a: str, b: str) -> bool:
    """A Russian family name in its men's and women's form (SOBOLEV, SOBOLEVA): two people."""
    shorter, longer = sorted((a, b), key=len)
    if not shorter.endswith(("ov", "ev", "in", "yn")):
        return False
    # ...and a Russian family name against a South Slavic one built on it (LAZAREV, LAZAREVIC)
    return longer in (shorter + "a", shorter + "ic", shorter + "ich", shorter + "ych", shorter + "ski")


_KOREAN_FOLDS = (("yeo", "yo"), ("eo", "o"), ("eu", "u"), ("oo", "u"), ("ee", "i"), ("wo", "o"), ("ae", "e"),
                 ("ch", "j"), ("g", "k"), ("d", "t"), ("b", "p"), ("r", "l"), ("sh", "s"))


@lru_cache(maxsize=65536)
def korean_key(word: str) -> str:
    """A romanised Korean syllable with the usual spellings folded together: JONG, JEONG and CHONG,
    GIM and KIM, PAK and BAK, RI and LI are one."""
    for old, new in _KOREAN_FOLDS:
        word = word.replace(old, new)
    return word


def _even_out_arabic(pairs: list[tuple[str, str | None]]) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    skip_article = False
    for word, source in pairs:
        if skip_article and word in _ARTICLES | {"ul", "ar", "as", "ad", "an", "ash", "az", "at"}:
            skip_article = False
            continue
        skip_article = False
        if word in _ABD_FORMS:
            out.append(("abdul", source))
            skip_article = True
            continue
        if word in _ARTICLES:
            continue
        out.append((word, source))
    if not out:  # a name made only of articles
        return tuple(pairs)
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


# Letters that transliterations of one name swap for one another: OMAR, UMAR; ANDREI, ANDREY;
# AHMAD, AHMED; MIKHAIL, MIKHAEL; YULIA, JULIA. Other vowels make other names: JOAN, JIAN, JUAN.
_ALTERNATE_LETTERS = frozenset({frozenset(pair) for pair in ("iy", "ou", "ei", "ae", "ey", "ij", "yj")})


def letters_alternate(a: str, b: str) -> bool:
    """Two words of the same length that differ only in letters transliterations swap for one
    another (`_ALTERNATE_LETTERS`), letter for letter."""
    return len(a) == len(b) and a != b and all(
        x == y or frozenset((x, y)) in _ALTERNATE_LETTERS for x, y in zip(a, b, strict=True))


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
