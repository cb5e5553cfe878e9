"""Ordinary personal names written in Arabic, Chinese (Hanzi), Korean (Hangul) and Cyrillic script,
generated from lists of common given and family names in each script (written out below, not
downloaded), with the Latin spelling that sanctions lists would print next to them.

Used by bench/bench_screening.py to measure false hits and recall per script, and by
tests/test_matcher_scripts.py. Everything is deterministic for a given random.Random.

    generate(script, rng, count)  -> [{"name", "latin", "script", "words"}]

`name` is the name in its script, `latin` the spelling a list would use (KIM Min Jun, ZHANG Xiuying,
Khalid Hasan AL-KHATIB, Ivan Petrovich SMIRNOV)."""

from __future__ import annotations

import random
from typing import Any

from anyascii import anyascii

SCRIPTS = ("arabic", "chinese", "korean", "cyrillic")

# ---------------------------------------------------------------------------
# Arabic: given names (men, women) and family names, each with its usual Latin spelling.

ARABIC_MEN = [
    ("محمد", "Muhammad"), ("أحمد", "Ahmad"), ("علي", "Ali"), ("حسن", "Hasan"), ("حسين", "Husayn"),
    ("عمر", "Umar"), ("خالد", "Khalid"), ("يوسف", "Yusuf"), ("إبراهيم", "Ibrahim"), ("مصطفى", "Mustafa"),
    ("محمود", "Mahmud"), ("سعيد", "Said"), ("صالح", "Salih"), ("عثمان", "Uthman"), ("طارق", "Tariq"),
    ("كريم", "Karim"), ("سامي", "Sami"), ("رامي", "Rami"), ("ماجد", "Majid"), ("وليد", "Walid"),
    ("فيصل", "Faysal"), ("نبيل", "Nabil"), ("هشام", "Hisham"), ("جمال", "Jamal"), ("عادل", "Adil"),
    ("ياسر", "Yasir"), ("زياد", "Ziyad"), ("بلال", "Bilal"), ("حمزة", "Hamza"), ("أنس", "Anas"),
    ("عمار", "Ammar"), ("منصور", "Mansur"), ("ناصر", "Nasir"), ("سلمان", "Salman"), ("فهد", "Fahd"),
    ("سلطان", "Sultan"), ("راشد", "Rashid"), ("حامد", "Hamid"), ("مراد", "Murad"), ("أيمن", "Ayman"),
    ("باسم", "Basim"), ("رائد", "Raid"), ("عماد", "Imad"), ("نادر", "Nadir"), ("شريف", "Sharif"),
    ("فارس", "Faris"), ("مالك", "Malik"), ("زكريا", "Zakariya"), ("إسماعيل", "Ismail"), ("جعفر", "Jafar"),
    ("عبد الله", "Abdallah"), ("عبد الرحمن", "Abd al-Rahman"), ("عبد العزيز", "Abd al-Aziz"),
    ("عبد الكريم", "Abd al-Karim"), ("حسام", "Husam"), ("مهدي", "Mahdi"), ("سمير", "Samir"), ("منير", "Munir"),
]
ARABIC_WOMEN = [
    ("فاطمة", "Fatima"), ("عائشة", "Aisha"), ("مريم", "Maryam"), ("زينب", "Zaynab"), ("خديجة", "Khadija"),
    ("نور", "Nur"), ("سارة", "Sara"), ("ليلى", "Layla"), ("هدى", "Huda"), ("أمل", "Amal"), ("سلمى", "Salma"),
    ("ريم", "Rim"), ("دينا", "Dina"), ("رانيا", "Rania"), ("ياسمين", "Yasmin"), ("لينا", "Lina"), ("هالة", "Hala"),
    ("منى", "Muna"), ("سعاد", "Suad"), ("نادية", "Nadia"), ("رنا", "Rana"), ("سناء", "Sana"), ("حنان", "Hanan"),
]
ARABIC_FAMILIES = [
    ("الخطيب", "al-Khatib"), ("الحسيني", "al-Husayni"), ("النجار", "al-Najjar"), ("الحداد", "al-Haddad"),
    ("المصري", "al-Masri"), ("الشامي", "al-Shami"), ("العلي", "al-Ali"), ("القاسم", "al-Qasim"),
    ("السيد", "al-Sayyid"), ("الزين", "al-Zayn"), ("حداد", "Haddad"), ("خوري", "Khuri"), ("منصور", "Mansur"),
    ("عيسى", "Isa"), ("سليمان", "Sulayman"), ("درويش", "Darwish"), ("يونس", "Yunus"), ("البغدادي", "al-Baghdadi"),
    ("التميمي", "al-Tamimi"), ("العمري", "al-Umari"), ("الأنصاري", "al-Ansari"), ("الهاشمي", "al-Hashimi"),
    ("الجبوري", "al-Jaburi"), ("الدوري", "al-Duri"), ("الراشد", "al-Rashid"), ("الصالح", "al-Salih"),
    ("الفاسي", "al-Fasi"), ("الشريف", "al-Sharif"), ("الكبيسي", "al-Kubaysi"), ("العبيدي", "al-Ubaydi"),
    ("المالكي", "al-Maliki"), ("الحكيم", "al-Hakim"), ("الكردي", "al-Kurdi"), ("عطية", "Atiya"), ("قاسم", "Qasim"),
    ("عواد", "Awad"), ("زيدان", "Zaydan"), ("نصار", "Nassar"), ("الخوري", "al-Khuri"), ("البزاز", "al-Bazzaz"),
    ("الحلبي", "al-Halabi"), ("الدمشقي", "al-Dimashqi"), ("الموصلي", "al-Mawsili"), ("الشمري", "al-Shammari"),
    ("العتيبي", "al-Utaybi"), ("القحطاني", "al-Qahtani"), ("الغامدي", "al-Ghamdi"), ("الزهراني", "al-Zahrani"),
]

# ---------------------------------------------------------------------------
# Chinese: family names (two compound ones) and the commonest characters of given names.

CHINESE_FAMILIES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
) + ["欧阳", "司马", "诸葛"]
CHINESE_GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华文辉玲红建国宇浩婷雪琳鹏飞志海林斌宁晨欣怡佳俊博成嘉子梓涵轩睿思雨萱"
)

# ---------------------------------------------------------------------------
# Korean: family names with the spelling lists use, and syllables of given names.

KOREAN_FAMILIES = [
    ("김", "Kim"), ("이", "Lee"), ("박", "Park"), ("최", "Choi"), ("정", "Jung"), ("강", "Kang"), ("조", "Cho"),
    ("윤", "Yoon"), ("장", "Jang"), ("임", "Lim"), ("한", "Han"), ("오", "Oh"), ("서", "Seo"), ("신", "Shin"),
    ("권", "Kwon"), ("황", "Hwang"), ("안", "Ahn"), ("송", "Song"), ("류", "Ryu"), ("전", "Jeon"), ("홍", "Hong"),
    ("고", "Ko"), ("문", "Moon"), ("양", "Yang"), ("손", "Son"), ("배", "Bae"), ("백", "Baek"), ("허", "Heo"),
    ("남", "Nam"), ("노", "Noh"),
]
KOREAN_GIVEN = list("민준서연지우현수영호진성은혜아윤하도예주원재승희경태동석미정")

# ---------------------------------------------------------------------------
# Cyrillic (Russian): given names, fathers' names (for patronymics) and family names (men's form).

CYRILLIC_MEN = """Александр Сергей Дмитрий Андрей Алексей Максим Иван Михаил Николай Евгений Владимир Павел Артём
Олег Игорь Юрий Виктор Роман Антон Денис Кирилл Никита Егор Илья Василий Григорий Борис Константин Фёдор Тимур
Пётр Вадим Станислав Глеб Леонид""".split()
CYRILLIC_WOMEN = """Елена Ольга Наталья Татьяна Ирина Светлана Анна Мария Екатерина Юлия Анастасия Марина Дарья
Ксения Валентина Галина Людмила Вера Надежда Алина Полина Софья Виктория Оксана""".split()
CYRILLIC_PATRONYMIC_STEMS = """Александров Сергеев Дмитриев Андреев Алексеев Иванов Михайлов Николаев Евгеньев
Владимиров Павлов Олегов Игорев Юрьев Викторов Романов Антонов Борисов Петров Фёдоров Васильев Григорьев
Константинов Леонидов""".split()
CYRILLIC_FAMILIES = """Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов Волков
Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров Никитин Захаров Зайцев
Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев Кузьмин Фролов Александров Дмитриев Королёв Гусев
Киселёв Ильин Максимов Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов Филиппов
Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов Карпов
Власов Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев Фомин Чернов Абрамов
Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Быков Маслов Родионов Коновалов Лазарев Воронин Климов
Филатов Пономарёв Голубев Кудрявцев Прохоров Наумов Потапов Журавлёв Овчинников Трофимов Леонов Соболев
Ермаков Колесников Гончаров Емельянов Никифоров Грачёв Котов""".split()


def _latin(text: str) -> str:
    return anyascii(text)


def _arabic(rng: random.Random) -> dict[str, Any]:
    woman = rng.random() < 0.35
    given = rng.choice(ARABIC_WOMEN if woman else ARABIC_MEN)
    family = rng.choice(ARABIC_FAMILIES)
    parts = [given]
    if rng.random() < 0.6:  # given name, father's name, family name
        parts.append(rng.choice(ARABIC_MEN))
    parts.append(family)
    latin = " ".join(p[1] for p in parts[:-1]) + " " + family[1].upper()
    return {"name": " ".join(p[0] for p in parts), "latin": latin}


def _chinese(rng: random.Random) -> dict[str, Any]:
    family = rng.choice(CHINESE_FAMILIES)
    given = "".join(rng.choice(CHINESE_GIVEN) for _ in range(1 if rng.random() < 0.35 else 2))
    return {"name": family + given, "latin": f"{_latin(family).upper()} {_latin(given).capitalize()}"}


def _korean(rng: random.Random) -> dict[str, Any]:
    family, spelling = rng.choice(KOREAN_FAMILIES)
    given = "".join(rng.choice(KOREAN_GIVEN) for _ in range(1 if rng.random() < 0.08 else 2))
    return {"name": family + given, "latin": f"{spelling.upper()} {' '.join(_latin(s).capitalize() for s in given)}"}


def _feminine(surname: str) -> str:
    return surname + "а" if surname.endswith(("ов", "ев", "ёв", "ин", "ын")) else surname


def _cyrillic(rng: random.Random) -> dict[str, Any]:
    woman = rng.random() < 0.4
    given = rng.choice(CYRILLIC_WOMEN if woman else CYRILLIC_MEN)
    family = rng.choice(CYRILLIC_FAMILIES)
    family = _feminine(family) if woman else family
    roll = rng.random()
    if roll < 0.5:
        patronymic = rng.choice(CYRILLIC_PATRONYMIC_STEMS)
        patronymic += "на" if woman else "ич"
        words = [given, patronymic, family]
    elif roll < 0.85:
        words = [given, family]
    else:
        words = [family, given]
    surname_last = words[-1] == family
    latin = " ".join(_latin(w).upper() if w == family else _latin(w) for w in words)
    if not surname_last:
        latin = f"{_latin(family).upper()} " + " ".join(_latin(w) for w in words[1:])
    return {"name": " ".join(words), "latin": latin}


_MAKERS = {"arabic": _arabic, "chinese": _chinese, "korean": _korean, "cyrillic": _cyrillic}


def generate(script: str, rng: random.Random, count: int, exclude: set[str] | None = None) -> list[dict[str, Any]]:
    """`count` different names in `script` (none whose name is in `exclude`)."""
    make = _MAKERS[script]
    exclude = exclude or set()
    names: list[dict[str, Any]] = []
    seen: set[str] = set()
    attempts = 0
    while len(names) < count and attempts < count * 50:
        attempts += 1
        item = make(rng)
        if item["name"] in seen or item["name"] in exclude:
            continue
        seen.add(item["name"])
        item["script"] = script
        names.append(item)
    return names


# ---------------------------------------------------------------------------
# Romanisations of a Russian word, to tell a listed person's exact namesake in another system.

# Letters that the usual systems (BGN/PCGN, ICAO 9303 in passports, GOST 7.79 B, and the English
# and French habit of X for KS) write differently; every other letter as anyascii writes it.
_CYRILLIC_SPELLINGS = {
    "ий": ("iy", "iy", "y", "ii", "i", "ij"), "ый": ("yy", "y", "iy"), "кс": ("ks", "x"),
    "е": ("e", "ye", "ie", "je"), "ё": ("e", "yo", "ye", "io", "jo"), "й": ("y", "i", "j"), "ь": ("", "'"),
    "ъ": ("", "'", "ie"), "ю": ("yu", "iu", "ju"), "я": ("ya", "ia", "ja"), "х": ("kh", "h", "x"),
    "ц": ("ts", "tz", "c"), "ы": ("y", "i"), "э": ("e",), "ж": ("zh", "j"), "щ": ("shch", "sch"),
}
_MAX_ROMANISATIONS = 512


def romanisations(word: str) -> set[str]:
    """The ways the usual systems write a Russian word in Latin letters (lower case), at most
    _MAX_ROMANISATIONS of them: Алексеев gives ALEKSEEV, ALEKSEYEV, ALEXEYEV and more."""
    spellings = [""]
    text = word.lower()
    i = 0
    while i < len(text):
        pair = text[i:i + 2]
        if pair in _CYRILLIC_SPELLINGS:
            options, i = _CYRILLIC_SPELLINGS[pair], i + 2
        elif text[i] in _CYRILLIC_SPELLINGS:
            options, i = _CYRILLIC_SPELLINGS[text[i]], i + 1
        else:
            options, i = (anyascii(text[i]).lower(),), i + 1
        spellings = [s + o for s in spellings for o in dict.fromkeys(options)][:_MAX_ROMANISATIONS]
    return set(spellings)
