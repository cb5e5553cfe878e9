"""Names written in Arabic, Chinese, Korean and Cyrillic script, and letters swapped: the matcher
compares names within their script and catches a swap of two adjacent letters (issue 12)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.names_by_script import SCRIPTS, generate
from onboarding.screening.matcher import DEFAULT_THRESHOLD, ListedEntry, Matcher, name_score
from onboarding.screening.normalise import arabic_letters, arabic_spells, script_of, tokens


def index(*entries: list[str]) -> Matcher:
    """A matcher over persons, each given as its names (the first the primary one)."""
    listed = [ListedEntry(id=n, snapshot_id=1, source="test", external_id=f"E{n}", kind="person", name=names[0])
              for n, names in enumerate(entries, 1)]
    aliases = [(n, name, "strong") for n, names in enumerate(entries, 1) for name in names]
    return Matcher(listed, aliases)


def hits(matcher: Matcher, name: str) -> list[str]:
    return [m.matched_alias for m in matcher.screen(name, kind="person")]


# ---------------------------------------------------------------------------
# Arabic script


def test_arabic_names_with_the_same_consonants_are_not_one_name():
    # حامد (HAMID) and أحمد (AHMAD) share the consonants H M D; so do حسن (HASAN) and حسين (HUSAYN).
    # Reduced to consonants they scored 0.88 and every such pair was a hit.
    listed = index(["AHMAD, Sayyid"], ["HUSAYN, Ali"])
    assert hits(listed, "حامد السيد") == []
    assert hits(listed, "علي حسن") == []
    # ...while the same names in Arabic script still meet their Latin spelling.
    assert hits(listed, "أحمد السيد") == ["AHMAD, Sayyid"]
    assert hits(listed, "علي حسين") == ["HUSAYN, Ali"]


def test_a_latin_spelling_must_be_readable_from_the_arabic_letters():
    def spells(arabic: str, latin: str) -> bool:
        return arabic_spells(arabic_letters(arabic), latin)

    assert spells("حسن", "hasan") and spells("حسن", "hassan")          # a short vowel, a doubled letter
    assert spells("حسين", "husayn") and spells("حسين", "hussein")
    assert spells("محمد", "muhammad") and spells("محمد", "mohammed")
    assert spells("خالد", "khalid") and spells("خالد", "khaled")
    assert spells("عمر", "omar") and spells("عمر", "umar")
    assert not spells("حسن", "husayn")      # the Y is a long vowel Arabic would write
    assert not spells("حسين", "hasan")      # ...and here it is missing
    assert not spells("حامد", "ahmad")      # letters in another order
    assert not spells("محمود", "muhammad")  # MAHMUD is another name
    assert not spells("خالد", "khalil")


def test_arabic_script_names_differing_in_a_letter_are_different_names():
    listed = index(["Khalid SULAYMAN", "خالد سليمان"], ["Hisham Husam AL-QASIM", "هشام حسام القاسم"])
    assert hits(listed, "خالد سليمان") == ["خالد سليمان"]
    assert hits(listed, "خالد سلمان عيسى") == []     # SALMAN is not SULAYMAN
    assert hits(listed, "خالد سلمان") == []
    assert hits(listed, "حسام القاسم") == []         # the father, not HISHAM son of HUSAM
    assert hits(listed, "هشام القاسم") == ["هشام حسام القاسم"]  # a dropped middle name is still a variant
    # ABU MARYAM is Maryam's father, not Maryam
    assert hits(index(["AL-ZAHRANI, Abu Maryam"], ["AL-SHAMI, Abu Anas"]), "مريم الزهراني") == []


def test_a_latin_name_does_not_hit_a_listed_person_through_his_arabic_script_name():
    # LINA AL-UMARI's Arabic-script name, reduced to consonants (LN MR), met MARY ALLEN at 0.88.
    listed = index(["Lina AL-UMARI", "لينا العمري"])
    assert hits(listed, "Mary Allen") == []
    assert hits(listed, "Lina al-Umari") == ["Lina AL-UMARI"]
    assert hits(listed, "لينا العمري") == ["لينا العمري"]
    # An entry listed only in Arabic script is still compared through its transliteration.
    only_arabic = index(["خالد حسن"])
    assert hits(only_arabic, "Khalid Hasan") == ["خالد حسن"]


def test_an_arabic_script_name_with_its_article_mistyped_is_still_found():
    # ااتميمي and احللبي are التميمي and الحلبي with a letter of the article (ال) wrong or swapped: the
    # article was not recognised, so the word was compared whole and the name was missed.
    listed = index(["Fahd Mansur AL-TAMIMI", "فهد منصور التميمي"], ["Nabil Fahd AL-HALABI"])
    assert [m.external_id for m in listed.screen("فهد منصور ااتميمي")] == ["E1"]
    assert hits(listed, "نبيل فهد احللبي") == ["Nabil Fahd AL-HALABI"]  # against the Latin spelling only
    # ...but a word that merely starts with an alef is not an article: ابراهيم is not راهيم
    assert hits(index(["Khalid RAHIM"]), "خالد ابراهيم") == []


def test_an_arabic_script_name_whose_own_name_is_not_listed_is_a_relative():
    # سناء صالح السيد is Sana, daughter of Salih al-Sayyid; she met SALAH, Sayyid at 0.71 through her
    # father's and family name.
    listed = index(["SALAH, Sayyid"], ["AL-KAHTANE, Abdul Rahman"])
    assert hits(listed, "سناء صالح السيد") == []
    assert hits(listed, "فيصل عبد الرحمن القحطاني") == []
    assert hits(listed, "صالح السيد") == ["SALAH, Sayyid"]
    assert hits(listed, "عبد الرحمن القحطاني") == ["AL-KAHTANE, Abdul Rahman"]


def test_a_long_arabic_script_word_with_one_letter_wrong_is_still_found():
    listed = index(["Walid AL-QAHTANI", "وليد القحطاني"], ["Fahd Sami AL-BAGHDADI"])
    assert hits(listed, "وليد القحطاطي") == ["وليد القحطاني"]    # a letter wrong, in the script
    assert hits(listed, "فهد سامي البغدادد") == ["Fahd Sami AL-BAGHDADI"]  # against the Latin spelling


# ---------------------------------------------------------------------------
# Chinese and Korean script


def test_a_chinese_name_missing_a_syllable_is_another_name():
    listed = index(["ZHANG Weiming", "张伟明"], ["CHENG Min", "程敏"])
    assert [m.external_id for m in listed.screen("张伟明")] == ["E1"]
    assert [m.external_id for m in listed.screen("张 伟明")] == ["E1"]  # spacing does not matter
    assert hits(listed, "张伟") == []                  # was 0.87
    assert hits(listed, "程林") == []                  # one character other: was 0.91
    assert name_score("张伟", "张伟明") < DEFAULT_THRESHOLD


def test_chinese_script_is_not_compared_with_korean_script():
    # 宋浩 (Chinese, two characters) scored 0.86 against 송예호 (Korean, three syllables) through two
    # unrelated romanisations (SONGHAO, SONGYEHO).
    listed = index(["SONG Ye Ho", "송예호"])
    assert hits(listed, "宋浩") == []
    assert name_score("宋浩", "송예호") == 0.0
    assert hits(listed, "송예호") and hits(listed, "SONG Ye-Ho")
    # A Korean name in Hangul meets the list's Latin spelling, romanised alike (JEONG, JUNG; GIM, KIM).
    assert hits(index(["KIM Jong Un"]), "김정은")


def test_a_korean_name_missing_a_syllable_does_not_hit_its_latin_spelling():
    listed = index(["KANG Ha"], ["JANG Ji Tae"])
    assert hits(listed, "강호하") == []
    assert hits(listed, "장태아") == []
    assert hits(listed, "강하") == ["KANG Ha"]


# ---------------------------------------------------------------------------
# Cyrillic script


def test_a_patronymic_is_not_a_family_name_and_a_womans_name_not_a_mans():
    listed = index(["KORNET, Igor Aleksandrovich"], ["Viktor Petrovich SOBOLEV"])
    assert hits(listed, "Игорь Александров") == []   # the father's name against a family name
    assert hits(listed, "Виктория Соболева") == []   # SOBOLEVA, VIKTORIYA: a woman, not SOBOLEV, VIKTOR
    assert hits(listed, "Игорь Александрович Корнет") == ["KORNET, Igor Aleksandrovich"]
    assert hits(listed, "Igor Aleksandrovcih Kornet") == ["KORNET, Igor Aleksandrovich"]  # a typo is still one


def test_a_patronymic_with_a_typo_in_its_ending_is_still_the_patronymic():
    # IVANOVICS against IVANOVICH was taken for a family name built on the stem (IVANOV): missed.
    listed = index(["NEVEROV, Sergei Ivanovich"], ["BULGAKOV, Vadim Viktorovich"])
    assert hits(listed, "Sergei Ivanovics NEVEROV") == ["NEVEROV, Sergei Ivanovich"]
    assert hits(listed, "Vadim Viktorovic BULGAKOV") == ["BULGAKOV, Vadim Viktorovich"]


def test_a_different_fathers_name_is_a_different_person():
    # EVGENEVICH and SERGEYEVICH share their ending: they paired at 0.80 and the name scored 0.82.
    listed = index(["YERMAKOV, Ivan Sergeyevich"])
    assert hits(listed, "Иван Евгеньевич Ермаков") == []
    assert hits(listed, "Иван Сергеевич Ермаков") == ["YERMAKOV, Ivan Sergeyevich"]
    assert hits(listed, "Ivan Sergeevich Yermakov") == ["YERMAKOV, Ivan Sergeyevich"]


def test_vowels_that_transliterations_swap_sound_alike_others_do_not():
    assert name_score("Umar Haddad", "OMAR HADDAD") >= 0.85
    assert name_score("Andrei Petrov", "ANDREY PETROV") >= 0.85
    # JOAN and JIAN, ROSS and RIOS share their consonants but are other names: they scored 0.88 as
    # "sounds alike", and IVAN ROSS hit IVAN RIOS at 0.94.
    assert name_score("Ross", "Rios") < 0.85 and name_score("Joan", "Jian") < 0.85
    assert hits(index(["IVAN RIOS"]), "Ivan Ross") == []


def test_a_family_name_two_letters_off_a_listed_one_is_another_family():
    # Same given name, a family name two letters off: KOROLEV is not KOROBOV (was 0.74), MARINA not
    # IRINA (0.78); with a third word agreeing, two slips in one word are still a typo.
    listed = index(["KOROBOV, Igor"], ["NIKITINA, Irina"], ["ROGOZIN, Dmitry Olegovich"])
    assert hits(listed, "Игорь Королёв") == []
    assert hits(listed, "Марина Никитина") == []
    assert hits(listed, "Igor Korobvo") == ["KOROBOV, Igor"]            # one slip
    assert hits(listed, "Dmitry Olegovich ROGAZYN") == ["ROGOZIN, Dmitry Olegovich"]  # two slips


# ---------------------------------------------------------------------------
# Adjacent letters swapped


def test_a_short_word_with_two_letters_swapped_is_caught():
    listed = index(["LEE, Ali"], ["OMAR, Ali"])
    assert hits(listed, "Ail Lee") == ["LEE, Ali"]    # was 0.42
    assert hits(listed, "Lai Omar") == ["OMAR, Ali"]  # was 0.49


def test_a_name_whose_first_letters_are_swapped_is_still_a_candidate():
    listed = index(["KARIM, Omar"], ["HADDAD, Karim"], ["BAGHDADI, Karim"], ["RI, Gil Su"])
    assert [m.external_id for m in listed.screen("Oamr Akrim", kind="person")] == ["E1"]
    assert hits(listed, "Ri Igl Su") == ["RI, Gil Su"]


# ---------------------------------------------------------------------------
# Properties


_LETTERS = {
    "latin": "abcdefghijklmnopqrstuvwxyz",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوية",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщыэюя",
    "han": "王李张刘陈杨黄赵伟芳娜秀英敏静丽强",
    "hangul": "김이박최정민준서연지우현수",
}


@st.composite
def names(draw, script: str | None = None, max_words: int = 4):
    script = script or draw(st.sampled_from(sorted(_LETTERS)))
    word = st.text(alphabet=_LETTERS[script], min_size=1, max_size=9)
    return " ".join(draw(st.lists(word, min_size=1, max_size=max_words)))


@settings(max_examples=300, deadline=None)
@given(names(), names())
def test_the_name_score_is_between_0_and_1(a, b):
    assert 0.0 <= name_score(a, b) <= 1.0
    assert 0.0 <= name_score(a, b, kind="entity") <= 1.0


@settings(max_examples=300, deadline=None)
@given(names())
def test_a_name_scores_1_against_itself(a):
    if tokens(a, "person"):
        assert name_score(a, a) == 1.0


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(_LETTERS)).flatmap(lambda script: st.tuples(names(script, 1), names(script, 1))))
def test_the_score_of_two_words_is_symmetric(pair):
    # (A name of several words is deliberately not symmetric: a middle name the list has and the
    # screened name lacks costs less than a word the screened name has and the list lacks.)
    a, b = pair
    assert name_score(a, b) == name_score(b, a)


# ---------------------------------------------------------------------------
# The generated names the benchmark uses


def test_generated_names_are_in_their_script_and_deterministic():
    for script in SCRIPTS:
        first = generate(script, random.Random(7), 50)
        assert first == generate(script, random.Random(7), 50)
        assert len({item["name"] for item in first}) == 50
        expected = {"arabic": "arabic", "chinese": "han", "korean": "hangul", "cyrillic": "cyrillic"}[script]
        assert all(script_of(item["name"]) == expected and script_of(item["latin"]) == "latin" for item in first)


# ---------------------------------------------------------------------------
# How the benchmark counts an ordinary name that is a listed person's name


def test_the_benchmark_counts_exact_namesakes_apart_and_only_those():
    from bench.bench_screening import ListedNames

    listed = ListedNames(["ALEXANDROV, Vladimir Gheorghievici", "SALEH, Qasim", "KOROBOV, Igor"])
    assert listed.namesake("Vladimir Alexandrov")                 # a middle name dropped
    assert listed.namesake("Александров Владимир")                # another romanisation: ALEKSANDROV
    assert listed.namesake("صالح قاسم")                           # the Arabic letters spell SALEH, QASIM
    assert not listed.namesake("Игорь Королёв")                   # KOROLEV is another name
    assert not listed.namesake("Igor Ivan Korobov")               # a word the listed name lacks
    assert not listed.namesake("Vladimir")                        # one word is not a name
