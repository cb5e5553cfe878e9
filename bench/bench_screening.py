"""Sanctions screening benchmark: importing the full OFAC SDN list, screening latency, and matching
quality (recall on generated name variants of listed names, false positives on ordinary names).

    python -m bench.bench_screening          (from the project folder)

Runs against a temporary SQLite database built by the migrations, prints a table and writes its
figures into bench/results.json under "screening" (other keys of that file are kept)."""

from __future__ import annotations

import json
import logging
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SANCTIONS_FIXTURES = ROOT / "tests" / "fixtures" / "sanctions"  # in the repository: see its README.md
OFAC_FULL = SANCTIONS_FIXTURES / "ofac-full"
RESULTS = Path(__file__).resolve().parent / "results.json"

SEED = 20240601
LATENCY_RUNS = 250
VARIANT_PERSONS = 700
VARIANT_ENTITIES = 500
ORDINARY_PEOPLE = 2500
ORDINARY_COMPANIES = 1500
# Per script: names listed in that script (two in three also carry their name in the script, the rest
# only a Latin spelling, as the UN and EU lists do), and ordinary names in the script on no list.
LISTED_PER_SCRIPT = 150
ORDINARY_PER_SCRIPT = 2000

# ---------------------------------------------------------------------------
# Ordinary names (people and firms that are on no list)

FIRST_NAMES = """
James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew Anthony Mark
Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary
Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Frank Alexander Raymond Patrick
Jack Dennis Jerry Tyler Aaron Henry Adam Douglas Nathan Peter Zachary Kyle Walter Harold Jeremy Ethan Carl Keith
Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Margaret Sandra Ashley
Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah Stephanie Rebecca Sharon Laura Cynthia Kathleen
Amy Angela Shirley Anna Brenda Pamela Emma Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet
Catherine Maria Heather Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina Joan Evelyn Judith
Hans Klaus Jurgen Stefan Wolfgang Andreas Matthias Tobias Lukas Felix Jonas Sophie Hannah Lena Lea Katharina
Pierre Jean Louis Philippe Nicolas Julien Antoine Camille Chloe Manon Elodie Isabelle Giulia Marco Luca Giuseppe
Francesca Alessandro Matteo Chiara Lars Erik Anders Johan Ingrid Astrid Sven Mikael Pieter Jan Willem Sanne Femke
Wei Jing Li Hui Yan Ming Hao Xin Yuki Haruto Sota Yui Hina Kenji Takashi Akira Naoko Minjun Seoyeon Jiwoo Hyun
Rahul Priya Amit Anjali Vikram Sunita Arjun Deepa Sanjay Kavita Rohan Neha Arun Lakshmi Suresh Meera
Carlos Jose Juan Luis Miguel Javier Alejandro Diego Sofia Lucia Valentina Camila Isabel Elena Carmen Pablo
Olga Anna Irina Pavel Ivan Tomasz Piotr Katarzyna Agnieszka Marek Jakub Petra Zuzana Ondrej Lukas
Ahmed Omar Fatima Aisha Karim Layla Yasmin Tariq Samir Nadia Emre Mehmet Ayse Elif Burak Kwame Ama Chinedu
Ngozi Tunde Amara Thabo Lindiwe Kofi Abena
""".split()

LAST_NAMES = """
Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin Jackson Thompson White
Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell
Roberts Carter Phillips Evans Turner Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Peterson
Cooper Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray James Hughes Price
Sanders Myers Long Ross Foster Powell Jenkins Perry Russell Sullivan Fisher Henderson Coleman Simmons Patterson
Jordan Reynolds Hamilton Graham Wallace Cole West Owens Marshall Ellis Harrison Gibson McDonald Kennedy Wells
Muller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein Wolf Neumann
Dubois Lefebvre Moreau Laurent Simon Michel Garnier Rousseau Fontaine Chevalier Rossi Russo Ferrari Esposito
Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti Johansson Andersson Karlsson Nilsson Eriksson Larsson
Jansen Visser Smit Bakker Janssen Vries Meijer Mulder Bos Vos Peeters Maes Claes Wouters
Wang Zhang Liu Chen Yang Huang Zhao Zhou Sun Tanaka Suzuki Takahashi Watanabe Ito Nakamura Kobayashi Sato
Park Choi Jung Kang Yoon Lim Han Patel Sharma Singh Kumar Gupta Mehta Shah Iyer Reddy Nair Rao Desai
Hernandez Martinez Lopez Gonzalez Perez Sanchez Ramirez Torres Flores Rivera Gomez Diaz Morales Ortiz Castillo
Nowak Kowalski Wisniewski Kowalczyk Kaminski Novak Horvat Dvorak Svoboda Kovac Popescu Ionescu Papadopoulos
Yilmaz Kaya Demir Sahin Celik Haddad Nasser Mansour Khoury Okafor Mensah Boateng Adeyemi Nkosi Mokoena Okonkwo
""".split()

COMPANY_WORDS = """
Northwind Bluewater Summit Oakridge Silverline Brightpath Clearview Evergreen Harbor Ironbridge Keystone Lakeside
Meadowbrook Pinecrest Redwood Riverstone Skyline Stonegate Sunrise Westfield Amberley Ashford Beacon Briarwood
Cedar Copperfield Crestview Driftwood Elmwood Fairhaven Foxglove Granite Hawthorn Highland Juniper Kingsbridge
Larkspur Maple Marlow Northgate Orchard Parkside Quarry Rosewood Saltmarsh Thornbury Upland Valemont Willow
Windmill Yardley Zenith Aldgate Bramble Calder Dovecote Fernhill Glenmore Hollybrook Kestrel Linden Moorland
Nettlebed Otterburn Penrose Quayside Ravenscroft Sheffield Tamarind Umber Verity Wexford Arden Belmont Carrow
""".split()
BUSINESS_WORDS = """
Analytics Logistics Consulting Software Systems Foods Textiles Engineering Robotics Dental Veterinary Bakery
Architects Interiors Printing Packaging Landscaping Recruitment Accountants Solicitors Optics Pharmacy Brewing
Orchards Dairy Furniture Ceramics Studios Media Publishing Travel Cleaning Plumbing Electrical Roofing Bikes
Outdoor Pets Kitchens Gardens Labs Diagnostics Learning Tutoring Fitness Wellness Clinics Coffee Tea Vineyards
Capital Ventures Holdings Partners Advisory Markets Securities Investments Technologies Solutions Networks Data
""".split()
LEGAL_SUFFIXES = ["Ltd", "Limited", "LLC", "Inc", "GmbH", "S.A.", "B.V.", "AG", "PLC", "Pty Ltd", "SAS", "Oy", "AB",
                  "Co.", "Corp.", "LLP", ""]
JURISDICTIONS = ["GB", "US", "DE", "FR", "NL", "CH", "SG", "JP", "IE", "SE", "ES", "IT", "CA", "AU", "HK"]

# ---------------------------------------------------------------------------
# Variants of listed names

SPELLINGS = [
    ["MOHAMMED", "MUHAMMAD", "MOHAMED", "MOHAMMAD", "MUHAMMED", "MOHAMAD"],
    ["AHMED", "AHMAD"], ["HUSSEIN", "HUSSAIN", "HUSAYN", "HUSEIN"], ["HASSAN", "HASAN"],
    ["YUSUF", "YOUSEF", "YOUSSEF", "YUSEF"], ["OMAR", "UMAR"], ["OSAMA", "USAMA"], ["KHALID", "KHALED"],
    ["SAEED", "SAID", "SAYEED"], ["ABDULLAH", "ABDALLAH", "ABDULLA"], ["MAHMOUD", "MAHMUD"],
    ["YURI", "YURY", "YURIY"], ["ALEKSANDR", "ALEXANDER", "ALEKSANDER"], ["SERGEI", "SERGEY", "SERGEJ"],
    ["DMITRY", "DMITRI", "DMITRIY"], ["ALEKSEI", "ALEXEI", "ALEKSEY", "ALEXEY"], ["ANDREI", "ANDREY"],
    ["NIKOLAI", "NIKOLAY"], ["MIKHAIL", "MIKHAEL"], ["EVGENY", "YEVGENIY", "EVGENIY", "YEVGENY"],
    ["VIKTOR", "VICTOR"], ["YULIA", "JULIA", "YULIYA"], ["TATIANA", "TATYANA"], ["NATALIA", "NATALYA"],
    ["VLADIMIROVICH", "VLADIMIROVITCH"], ["YURYEVICH", "YURIEVICH", "YUREVICH"], ["ALI", "ALY"],
    ["JOSE", "JOSÉ"], ["HERNANDEZ", "HERNÁNDEZ"], ["RODRIGUEZ", "RODRÍGUEZ"],
]
SPELLING_OF = {word: group for group in SPELLINGS for word in group}
LEGAL_WORDS = {"LTD", "LTD.", "LIMITED", "LLC", "L.L.C.", "CO", "CO.", "INC", "INC.", "CORP", "CORP.",
               "CORPORATION", "COMPANY", "S.A.", "SA", "GMBH", "PLC", "FZE", "JSC", "OOO"}


def natural_order(name: str) -> str:
    """'LOGAN MOREY, Elvis Angus' -> 'Elvis Angus LOGAN MOREY'."""
    if "," in name:
        last, _, first = name.partition(",")
        return f"{first.strip()} {last.strip()}".strip()
    return name


def typo(name: str, rng: random.Random, edits: int) -> str | None:
    chars = list(name)
    letters = [i for i, c in enumerate(chars) if c.isalpha()]
    if len(letters) < (8 if edits == 1 else 14):
        return None
    for _ in range(edits):
        letters = [i for i, c in enumerate(chars) if c.isalpha()]
        position = rng.choice(letters[1:])  # keep the first letter: people rarely mistype it
        operation = rng.choice(["substitute", "insert", "delete", "transpose"])
        letter = rng.choice("ABCDEFGHIJKLMNOPRSTUVWY")
        if chars[position].islower():
            letter = letter.lower()
        if operation == "substitute":
            chars[position] = letter
        elif operation == "insert":
            chars.insert(position, letter)
        elif operation == "delete":
            del chars[position]
        elif position + 1 < len(chars) and chars[position + 1].isalpha():
            chars[position], chars[position + 1] = chars[position + 1], chars[position]
        else:
            chars[position] = letter
    return "".join(chars)


def reorder(name: str, kind: str, rng: random.Random) -> str | None:
    words = natural_order(name).split() if kind == "person" else name.replace(",", " ").split()
    if len(words) < 2:
        return None
    if kind == "person":
        return " ".join(words)  # the list writes SURNAME, Given names
    shuffled = words[:]
    while shuffled == words:
        rng.shuffle(shuffled)
    return " ".join(shuffled)


def drop_middle(name: str) -> str | None:
    if "," in name:
        last, _, first = name.partition(",")
        given = first.split()
        if len(given) < 2:
            return None
        return f"{given[0]} {last.strip()}"
    words = name.split()
    if len(words) < 3:
        return None
    return f"{words[0]} {words[-1]}"


def respell(name: str, rng: random.Random) -> str | None:
    words = natural_order(name).split()
    options = []
    for i, word in enumerate(words):
        bare = word.upper().strip(",.")
        if bare in SPELLING_OF:
            for other in SPELLING_OF[bare]:
                if other != bare:
                    options.append((i, other))
        if bare.endswith(("OV", "EV")) and len(bare) > 4:
            options.append((i, bare[:-1] + "FF"))
        if bare.endswith(("OFF", "EFF")) and len(bare) > 5:
            options.append((i, bare[:-2] + "V"))
        if bare in ("ABDUL", "ABDEL"):
            options.append((i, "ABD AL"))
        if bare == "ABD" and i + 1 < len(words) and words[i + 1].upper().startswith(("AL-", "AL ")):
            options.append((i, "ABDUL"))
        if bare.startswith("AL-") and len(bare) > 5:
            options.append((i, "AL " + bare[3:]))
        if bare.endswith("SKIY") or bare.endswith("SKII"):
            options.append((i, bare[:-4] + "SKY"))
        if bare.endswith("SKY") and not bare.endswith("SKIY"):
            options.append((i, bare[:-3] + "SKIY"))
    if not options:
        return None
    index, replacement = rng.choice(options)
    if replacement == "ABDUL" and index + 1 < len(words):
        words[index + 1] = words[index + 1][3:]
    words[index] = replacement
    return " ".join(words)


def change_legal_form(name: str, rng: random.Random) -> str | None:
    words = name.split()
    forms = ["LTD", "LLC", "CO", "LIMITED", "INC", "GMBH", "CO. LTD"]
    if words and words[-1].upper() in LEGAL_WORDS:
        if len(words) < 2:
            return None
        if rng.random() < 0.5:
            return " ".join(words[:-1]).rstrip(",")
        choices = [f for f in forms if f != words[-1].upper()]
        return " ".join(words[:-1]) + " " + rng.choice(choices)
    return name.rstrip(".") + " " + rng.choice(forms)


def make_variants(entries: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    variants = []
    for entry in entries:
        name, kind = entry["name"], entry["kind"]
        base = natural_order(name) if kind == "person" else name
        candidates = {
            "typo, one edit": typo(base, rng, 1),
            "typo, two edits": typo(base, rng, 2),
            "word order": reorder(name, kind, rng),
            "transliteration": respell(name, rng) if kind == "person" else None,
        }
        if kind == "person":
            candidates["dropped middle names"] = drop_middle(name)
        else:
            candidates["legal form"] = change_legal_form(name, rng)
        for variant_type, variant in candidates.items():
            if variant and variant.strip() and variant != name:
                variants.append({"type": variant_type, "name": variant, "kind": kind, "entry_id": entry["id"],
                                 "birth_dates": entry["birth_dates"]})
    return variants


def ordinary_people(rng: random.Random, count: int, listed: set[str]) -> list[dict[str, Any]]:
    from onboarding.screening.normalise import sorted_key

    people, seen = [], set()
    while len(people) < count:
        given = rng.choice(FIRST_NAMES)
        if rng.random() < 0.25:
            given += " " + rng.choice(FIRST_NAMES)
        name = f"{given} {rng.choice(LAST_NAMES)}"
        key = sorted_key(name, "person")
        if key in listed or key in seen:
            continue
        seen.add(key)
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 50))
        people.append({"name": name, "kind": "person", "birth_date": born, "nationality": rng.choice(JURISDICTIONS)})
    return people


def ordinary_companies(rng: random.Random, count: int, listed: set[str]) -> list[dict[str, Any]]:
    from onboarding.screening.normalise import sorted_key

    companies, seen = [], set()
    while len(companies) < count:
        roll = rng.random()
        if roll < 0.4:
            stem = rng.choice(COMPANY_WORDS)
        elif roll < 0.7:
            stem = rng.choice(LAST_NAMES)
        elif roll < 0.85:
            stem = f"{rng.choice(LAST_NAMES)} & {rng.choice(LAST_NAMES)}"
        else:
            stem = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)}"
        name = f"{stem} {rng.choice(BUSINESS_WORDS)} {rng.choice(LEGAL_SUFFIXES)}".strip()
        key = sorted_key(name, "entity")
        if key in listed or key in seen:
            continue
        seen.add(key)
        companies.append({"name": name, "kind": "entity", "jurisdiction": rng.choice(JURISDICTIONS),
                          "registration_number": str(rng.randrange(10_000_000, 99_999_999))})
    return companies


# ---------------------------------------------------------------------------
# Quality


def _birth(entry_dates: list[str]) -> date | None:
    for value in entry_dates:
        if len(value) == 10:
            return date.fromisoformat(value)
    return None


def measure_quality(matcher, entries: list[dict[str, Any]], rng: random.Random, threshold: float) -> dict[str, Any]:
    """Recall on variants of listed names and false positives on ordinary names. `entries` are the
    list's persons and entities as dicts with id, name, kind and birth_dates."""
    from onboarding.screening.normalise import sorted_key

    listed = {sorted_key(a.name, a.entry.kind) for a in matcher.aliases}
    persons = [e for e in entries if e["kind"] == "person"]
    entities = [e for e in entries if e["kind"] == "entity"]
    sample = rng.sample(persons, min(VARIANT_PERSONS, len(persons))) + \
        rng.sample(entities, min(VARIANT_ENTITIES, len(entities)))
    variants = make_variants(sample, rng)
    by_type: dict[str, list[int]] = {}
    found_with_dob = 0
    misses = []
    for variant in variants:
        matches = matcher.screen(variant["name"], kind=variant["kind"], threshold=threshold)
        hit = any(m.entry_id == variant["entry_id"] for m in matches)
        counts = by_type.setdefault(variant["type"], [0, 0])
        counts[0] += hit
        counts[1] += 1
        if not hit:
            misses.append(variant)
        birth = _birth(variant["birth_dates"]) if variant["kind"] == "person" else None
        if birth is not None:
            matches = matcher.screen(variant["name"], kind=variant["kind"], birth_date=birth, threshold=threshold)
            hit = any(m.entry_id == variant["entry_id"] for m in matches)
        found_with_dob += hit
    ordinary = ordinary_people(rng, ORDINARY_PEOPLE, listed) + ordinary_companies(rng, ORDINARY_COMPANIES, listed)
    false_positives = []
    false_with_details = 0
    for item in ordinary:
        matches = matcher.screen(item["name"], kind=item["kind"], threshold=threshold)
        if matches:
            false_positives.append((item, matches[0]))
        detailed = matcher.screen(item["name"], kind=item["kind"], birth_date=item.get("birth_date"),
                                  nationality=item.get("nationality"), jurisdiction=item.get("jurisdiction"),
                                  registration_number=item.get("registration_number"), threshold=threshold)
        false_with_details += bool(detailed)
    found = sum(hit for hit, _ in by_type.values())
    people_fp = sum(1 for item, _ in false_positives if item["kind"] == "person")
    return {
        "threshold": threshold,
        "variants": len(variants),
        "variants_of_entries": len(sample),
        "recall": round(found / len(variants), 4),
        "recall_with_birth_date": round(found_with_dob / len(variants), 4),
        "recall_by_type": {t: {"found": f, "of": n, "recall": round(f / n, 4)}
                           for t, (f, n) in sorted(by_type.items())},
        "non_list_names": len(ordinary),
        "non_list_people": ORDINARY_PEOPLE,
        "non_list_companies": ORDINARY_COMPANIES,
        "false_positives": len(false_positives),
        "false_positive_rate": round(len(false_positives) / len(ordinary), 4),
        "false_positives_people": people_fp,
        "false_positives_companies": len(false_positives) - people_fp,
        "false_positive_rate_with_details": round(false_with_details / len(ordinary), 4),
        "sample_misses": [f"{v['type']}: {v['name']}" for v in misses[:12]],
        "sample_false_positives": [f"{item['name']} ~ {m.entry_name} ({m.score:.2f})"
                                   for item, m in false_positives[:12]],
        "_misses": misses,
        "_false_positives": false_positives,
    }


# ---------------------------------------------------------------------------
# Quality per script (Arabic, Chinese, Korean, Cyrillic next to Latin)


def _letter_typo(name: str, rng: random.Random) -> str | None:
    """One letter of a word of five or more letters replaced or swapped with the next (not the first)."""
    words = name.split()
    long_words = [i for i, w in enumerate(words) if len(w) >= 5]
    if not long_words:
        return None
    i = rng.choice(long_words)
    chars = list(words[i])
    position = rng.randrange(1, len(chars) - 1)
    if rng.random() < 0.5:
        chars[position], chars[position + 1] = chars[position + 1], chars[position]
    else:
        chars[position] = rng.choice([c for c in set(words[i]) if c != chars[position]] or ["x"])
    words[i] = "".join(chars)
    return " ".join(words)


def _script_variants(item: dict[str, Any], rng: random.Random) -> dict[str, str | None]:
    name, script = item["name"], item["script"]
    words = name.split()
    if script in ("chinese", "korean"):
        family = 2 if script == "chinese" and len(name) == 4 else 1  # 欧阳娜娜
        reordered = f"{name[:family]} {name[family:]}"
        typo_in_script = None  # one character more or less is another name
    else:
        reordered = " ".join(words[-1:] + words[:-1]) if len(words) > 1 else None
        typo_in_script = _letter_typo(name, rng)
    return {
        "in its script": name,
        "in its script, other word order or spacing": reordered,
        "in its script, one letter wrong or swapped": typo_in_script,
        "Latin spelling, one edit": typo(item["latin"], rng, 1) if len(item["latin"]) >= 8 else None,
    }


def _namesake(words: set[str], listed_word_sets: list[set[str]]) -> bool:
    """The name is a listed name with middle names dropped (or the same name): a true name match."""
    return any(len(words) >= 2 and words <= listed for listed in listed_word_sets)


class ListedNames:
    """The word sets of the persons' names on the lists, to tell an ordinary name that IS a listed
    person's name (an exact namesake) from one that is not. Words are compared exactly after
    normalisation (case, accents, punctuation, the Arabic article): no fuzzy matching, so that the
    matcher under test does not decide what counts against it."""

    def __init__(self, names: list[str]):
        from onboarding.screening.normalise import skeleton, tokens

        self.sets: list[frozenset[str]] = []
        self.by_word: dict[str, list[int]] = {}
        for name in names:
            words = frozenset(tokens(name, "person"))
            if len(words) < 2:
                continue
            for word in words:
                self.by_word.setdefault(word, []).append(len(self.sets))
            self.sets.append(words)
        self.by_skeleton: dict[str, list[str]] = {}
        for word in self.by_word:
            self.by_skeleton.setdefault(skeleton(word), []).append(word)

    def _spelled(self, latin: str, arabic: str | None) -> set[str]:
        """The listed words an Arabic-script word is written as: those its letters spell exactly
        (normalise.arabic_spells: HASAN and HASSAN spell حسن, HUSAYN does not), among the words of
        the same sound skeleton."""
        from onboarding.screening.normalise import arabic_spells, skeleton

        found = {latin}
        if arabic:
            found |= {w for w in self.by_skeleton.get(skeleton(latin), ()) if arabic_spells(arabic, w)}
        return found

    def namesake(self, *names: str) -> bool:
        """Whether any of the names (the one in its script, its usual Latin spelling) is a listed
        person's name word for word, or with middle names dropped (as the recall variants drop them).
        A name with a word the listed one lacks (HAMZA AMMAR AL-KURDI, AL-KURDI Hamza) is not one.
        A Russian name in Cyrillic letters counts in any of the usual romanisations (ALEXANDROV and
        ALEKSANDROV are one name written by two systems), an Arabic one in any Latin spelling its
        letters spell (صالح: SALIH, SALEH), each word written exactly so on the list."""
        from bench.names_by_script import romanisations
        from onboarding.screening.normalise import script_of, tokens, tokens_with_script

        for name in names:
            if script_of(name) == "cyrillic":
                words = [{w.replace("'", "") for w in romanisations(word)} for word in name.split()]
            elif script_of(name) == "arabic":
                words = [self._spelled(latin, arabic) for latin, arabic in dict.fromkeys(
                    tokens_with_script(name, "person"))]
            else:
                words = [{word} for word in dict.fromkeys(tokens(name, "person"))]
            if len(words) < 2:
                continue
            found = [{i for w in spellings for i in self.by_word.get(w, ())} for spellings in words]
            if all(found) and set.intersection(*found):
                return True
        return False


def _hit_line(name: str, match) -> str:
    return f"{name} ~ {match.matched_alias} ({match.score:.2f})"


def measure_scripts(matcher, rng: random.Random, threshold: float) -> dict[str, Any]:
    """Per script (Latin, Arabic, Chinese, Korean, Cyrillic):
    - false hits of ordinary names in the script against the lists (`matcher`: OFAC's full list
      with the UN and EU samples, which carry names in Arabic and Cyrillic script). An ordinary name
      that is a listed person's name, word for word or with middle names dropped (`ListedNames`), is
      an exact namesake: its hit is a true name match, counted apart ("namesakes"), not as a false hit;
    - recall on variants of names listed in the script: LISTED_PER_SCRIPT such names are added to
      the lists (two in three with their name in the script, the rest with a Latin spelling only);
    - false hits against those lists plus the added names ("near namesakes": ordinary names drawn
      from the same common given and family names, so most share a word or two with a listed one;
      a name that is a listed one with middle names dropped is a true name match and left out)."""
    from bench.names_by_script import SCRIPTS, generate
    from onboarding.screening.matcher import ListedEntry, Matcher
    from onboarding.screening.normalise import sorted_key

    entries = list(matcher.entries.values())
    aliases = [(a.entry.id, a.name, a.quality) for a in matcher.aliases]
    listed_persons = ListedNames([a.name for a in matcher.aliases if a.entry.kind == "person"])
    listed_by_script: dict[str, list[dict[str, Any]]] = {}
    next_id = max(matcher.entries, default=0) + 1_000_000
    for script in SCRIPTS:
        listed = generate(script, rng, LISTED_PER_SCRIPT)
        for n, item in enumerate(listed):
            item["id"] = next_id
            item["native_alias"] = n % 3 != 2
            entries.append(ListedEntry(id=next_id, snapshot_id=0, source="bench", external_id=f"{script}-{n}",
                                       kind="person", name=item["latin"]))
            aliases.append((next_id, item["latin"], "strong"))
            if item["native_alias"]:
                aliases.append((next_id, item["name"], "strong"))
            next_id += 1
        listed_by_script[script] = listed
    extended = Matcher(entries, aliases)
    listed_keys = {sorted_key(a.name, a.entry.kind) for a in extended.aliases}
    listed_names = {a.name for a in extended.aliases}
    added_word_sets = [set(sorted_key(n, "person").split()) for items in listed_by_script.values()
                       for item in items for n in (item["latin"], item["name"])]

    figures: dict[str, Any] = {}
    for script in ("latin",) + SCRIPTS:
        row: dict[str, Any] = {}
        if script == "latin":
            ordinary = ordinary_people(rng, ORDINARY_PER_SCRIPT, listed_keys)
        else:
            candidates = generate(script, rng, ORDINARY_PER_SCRIPT * 2, exclude=listed_names)
            ordinary = [c for c in candidates if sorted_key(c["latin"], "person") not in listed_keys
                        and sorted_key(c["name"], "person") not in listed_keys][:ORDINARY_PER_SCRIPT]
            found_by_type: dict[str, list[int]] = {}
            misses = []
            for item in listed_by_script[script]:
                for variant_type, variant in _script_variants(item, rng).items():
                    if not variant:
                        continue
                    hit = any(m.entry_id == item["id"] for m in extended.screen(variant, kind="person",
                                                                                 threshold=threshold))
                    counts = found_by_type.setdefault(variant_type, [0, 0])
                    counts[0] += hit
                    counts[1] += 1
                    if not hit:
                        only = "" if item["native_alias"] else " (Latin only)"
                        misses.append(f"{variant} ~ {item['latin']}{only}")
            found = sum(f for f, _ in found_by_type.values())
            total = sum(n for _, n in found_by_type.values())
            row.update({"variants": total, "recall": round(found / total, 4),
                        "recall_by_type": {t: {"found": f, "of": n} for t, (f, n) in found_by_type.items()},
                        "sample_misses": misses[:6], "_misses": misses})
        false_hits, namesake_hits = [], []
        namesakes = 0
        for item in ordinary:
            namesake = listed_persons.namesake(item["name"], item.get("latin", item["name"]))
            namesakes += namesake
            matches = matcher.screen(item["name"], kind="person", threshold=threshold)
            if matches:
                (namesake_hits if namesake else false_hits).append(_hit_line(item["name"], matches[0]))
        others = len(ordinary) - namesakes
        near = [item for item in ordinary
                if not _namesake(set(sorted_key(item.get("latin", item["name"]), "person").split()), added_word_sets)
                and not _namesake(set(sorted_key(item["name"], "person").split()), added_word_sets)]
        near_hits = []
        for item in near:
            matches = extended.screen(item["name"], kind="person", threshold=threshold)
            if matches:
                near_hits.append(_hit_line(item["name"], matches[0]))
        row.update({"ordinary_names": len(ordinary), "namesakes": namesakes, "namesake_hits": len(namesake_hits),
                    "hit_rate_namesakes_included": round((len(false_hits) + len(namesake_hits)) / len(ordinary), 4),
                    "false_hits": len(false_hits), "false_hit_rate": round(len(false_hits) / max(others, 1), 4),
                    "sample_false_hits": false_hits[:8], "sample_namesake_hits": namesake_hits[:4],
                    "near_namesakes": len(near), "near_namesake_false_hits": len(near_hits),
                    "near_namesake_false_hit_rate": round(len(near_hits) / max(len(near), 1), 4),
                    "sample_near_namesake_false_hits": near_hits[:6],
                    "_false_hits": false_hits, "_near_hits": near_hits})
        figures[script] = row
    return figures


# Per script, at the default threshold, measured by this benchmark (same seed, same counting) on the
# matcher before issue 12's last step (commit 0f8d277): recall on variants of listed names (Latin: the
# quality benchmark above) and false hits of ordinary names, in per cent.
BEFORE = {
    "recall_latin": 98.52, "recall_arabic": 87.82, "recall_arabic_one_letter": 48.87, "recall_chinese": 99.50,
    "recall_korean": 99.07, "recall_cyrillic": 97.33,
    "false_hits_latin": 0.50, "false_hits_arabic": 0.31, "false_hits_chinese": 0.00, "false_hits_korean": 0.00,
    "false_hits_cyrillic": 0.75,
}
FALSE_HIT_TARGET = 0.3  # per cent of ordinary names, every script (issue 12)


def script_targets(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The issue's figures per script, in per cent, each with its target and whether it is met:
    false hits at most FALSE_HIT_TARGET; recall not below what it was (`BEFORE`), and for a letter
    wrong in Arabic script not below the 94 of 133 found before the previous step."""
    out: dict[str, dict[str, Any]] = {}
    for script, row in figures["scripts"].items():
        recall = figures["quality"]["recall"] if script == "latin" else row["recall"]
        out[f"recall_{script}"] = {"value": round(100 * recall, 2), "target": BEFORE[f"recall_{script}"],
                                   "unit": "%", "before": BEFORE[f"recall_{script}"]}
        out[f"false_hits_{script}"] = {"value": round(100 * row["false_hit_rate"], 2), "target": FALSE_HIT_TARGET,
                                       "unit": "%", "before": BEFORE[f"false_hits_{script}"],
                                       "count": row["false_hits"], "of": row["ordinary_names"] - row["namesakes"],
                                       "namesakes": row["namesakes"], "namesake_hits": row["namesake_hits"],
                                       "with_namesake_hits": round(100 * row["hit_rate_namesakes_included"], 2)}
    one_letter = figures["scripts"]["arabic"]["recall_by_type"]["in its script, one letter wrong or swapped"]
    out["recall_arabic_one_letter"] = {"value": round(100 * one_letter["found"] / one_letter["of"], 2),
                                       "target": round(100 * 94 / 133, 2), "unit": "%",
                                       "before": BEFORE["recall_arabic_one_letter"],
                                       "found": one_letter["found"], "of": one_letter["of"]}
    for key, row in out.items():
        row["pass"] = row["value"] <= row["target"] if key.startswith("false_hits") else row["value"] >= row["target"]
    return out


# ---------------------------------------------------------------------------
# The run


def _rss_mb() -> float:
    """Peak resident set size of this process so far (getrusage ru_maxrss), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float | None:
    """Resident set size now (Linux /proc), in MB; None elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * resource.getpagesize() / 2**20


def _growth(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else round(after - before, 1)


def _make_app(folder: Path, name: str):
    from flask_migrate import upgrade

    from onboarding import create_app

    app = create_app({"APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{folder / name}", "JOBS_EAGER": True})
    with app.app_context():
        upgrade()
    return app


def run(path: Path = OFAC_FULL, seed: int = SEED) -> dict[str, Any]:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from onboarding.db import db
    from onboarding.screening.current import current_matcher
    from onboarding.screening.lists import import_list
    from onboarding.screening.models import ListEntry
    from onboarding.screening.normalise import sorted_key

    started = time.perf_counter()
    rng = random.Random(seed)
    figures: dict[str, Any] = {"list": str(path), "seed": seed}
    with tempfile.TemporaryDirectory(prefix="bench-screening-") as tmp:
        folder = Path(tmp)
        app = _make_app(folder, "bench.db")
        with app.app_context():
            # Import: wall time and process RSS growth (no tracing, so the time is the real one).
            peak_before, rss_before = _rss_mb(), _current_rss_mb()
            t0 = time.perf_counter()
            snapshot, _ = import_list("ofac-sdn", path, actor_label="bench")
            db.session.commit()
            import_seconds = time.perf_counter() - t0
            figures["import"] = {"entries": snapshot.entry_count, "names": snapshot.alias_count,
                                 "seconds": round(import_seconds, 3),
                                 "peak_rss_before_mb": round(peak_before, 1),
                                 "rss_growth_mb": round(_rss_mb() - peak_before, 1),
                                 "current_rss_growth_mb": _growth(rss_before, _current_rss_mb())}
            db.session.remove()
        # Peak Python memory of the same import, traced, into a second fresh database.
        memory_app = _make_app(folder, "bench-memory.db")
        with memory_app.app_context():
            tracemalloc.start()
            t0 = time.perf_counter()
            import_list("ofac-sdn", path, actor_label="bench")
            db.session.commit()
            traced_seconds = time.perf_counter() - t0
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            db.session.remove()
            db.engine.dispose()
        figures["import"].update({"tracemalloc_peak_mb": round(peak / 2**20, 1),
                                  "seconds_under_tracemalloc": round(traced_seconds, 3)})

        with app.app_context():
            peak_before, rss_before = _rss_mb(), _current_rss_mb()
            t0 = time.perf_counter()
            matcher = current_matcher()
            build_seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(50):
                assert current_matcher() is matcher
            check_ms = (time.perf_counter() - t0) / 50 * 1000
            figures["index"] = {"names_indexed": len(matcher), "build_seconds": round(build_seconds, 3),
                                "rss_growth_mb": round(_rss_mb() - peak_before, 1),
                                "current_rss_growth_mb": _growth(rss_before, _current_rss_mb()),
                                "cache_check_ms": round(check_ms, 3)}
            threshold = app.config.get("SCREENING_THRESHOLD", 0.70)

            # Latency: one application = the company and six people, >= 200 runs, every run new names.
            listed = {sorted_key(a.name, a.entry.kind) for a in matcher.aliases}
            applications = []
            for _ in range(LATENCY_RUNS):
                company = ordinary_companies(rng, 1, listed)[0]
                people = ordinary_people(rng, 6, listed)
                applications.append((company, people))
            timings = []
            for company, people in applications:
                t0 = time.perf_counter()
                screening = current_matcher()
                screening.screen(company["name"], kind="entity", jurisdiction=company["jurisdiction"],
                                 registration_number=company["registration_number"])
                for person in people:
                    screening.screen(person["name"], kind="person", birth_date=person["birth_date"],
                                     nationality=person["nationality"])
                timings.append((time.perf_counter() - t0) * 1000)
            timings.sort()
            figures["latency"] = {
                "runs": len(timings), "names_per_application": 7,
                "median_ms": round(statistics.median(timings), 2),
                "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 2),
                "max_ms": round(timings[-1], 2),
            }

            # Quality.
            rows = db.session.execute(
                db.select(ListEntry.id, ListEntry.name, ListEntry.kind, ListEntry.birth_dates)
                .where(ListEntry.snapshot_id == snapshot.id, ListEntry.kind.in_(["person", "entity"]))
                .order_by(ListEntry.id)
            ).all()
            quality = measure_quality(matcher, [dict(r._mapping) for r in rows], rng, threshold)
            quality.pop("_misses")
            quality.pop("_false_positives")
            figures["quality"] = quality
            # Per script: against the lists with names in other scripts too (UN: Arabic; EU: Cyrillic).
            import_list("un-xml", SANCTIONS_FIXTURES / "un-sample" / "consolidated.xml", actor_label="bench")
            import_list("ftm", SANCTIONS_FIXTURES / "ftm-sample" / "entities.ftm.json", actor_label="bench")
            db.session.commit()
            figures["scripts"] = measure_scripts(current_matcher(), rng, threshold)
            for row in figures["scripts"].values():
                for key in ("_misses", "_false_hits", "_near_hits"):
                    row.pop(key, None)
            figures.update(script_targets(figures))
            db.session.remove()
            db.engine.dispose()
    figures["total_seconds"] = round(time.perf_counter() - started, 1)
    return figures


def print_table(figures: dict[str, Any]) -> None:
    imp, index, latency, quality = figures["import"], figures["index"], figures["latency"], figures["quality"]
    rows = [
        ("Import full OFAC SDN", f"{imp['entries']} entries, {imp['names']} names"),
        ("  time", f"{imp['seconds']:.2f} s ({imp['seconds_under_tracemalloc']:.2f} s under tracemalloc)"),
        ("  peak Python memory (tracemalloc)", f"{imp['tracemalloc_peak_mb']:.1f} MB"),
        ("  process RSS growth (getrusage peak)", f"{imp['rss_growth_mb']:.1f} MB over a peak of "
                                                  f"{imp['peak_rss_before_mb']:.1f} MB before the import"),
        ("  process RSS now vs before (/proc)", f"{imp['current_rss_growth_mb']} MB"),
        ("Index build", f"{index['names_indexed']} names in {index['build_seconds']:.2f} s, "
                        f"peak RSS +{index['rss_growth_mb']:.1f} MB, cache check {index['cache_check_ms']:.2f} ms"),
        ("Screen one application (1 company + 6 people)", f"{latency['runs']} runs"),
        ("  median", f"{latency['median_ms']:.1f} ms"),
        ("  99th percentile", f"{latency['p99_ms']:.1f} ms (max {latency['max_ms']:.1f} ms)"),
        (f"Recall at threshold {quality['threshold']:.2f}",
         f"{quality['recall']:.2%} of {quality['variants']} variants of {quality['variants_of_entries']} entries "
         f"(with birth date: {quality['recall_with_birth_date']:.2%})"),
    ]
    for variant_type, row in quality["recall_by_type"].items():
        rows.append((f"  {variant_type}", f"{row['recall']:.2%} ({row['found']}/{row['of']})"))
    rows += [
        ("False-positive rate", f"{quality['false_positive_rate']:.2%} of {quality['non_list_names']} non-list names "
                                f"({quality['false_positives_people']} people, "
                                f"{quality['false_positives_companies']} companies)"),
        ("  with birth date / country / reg. no.", f"{quality['false_positive_rate_with_details']:.2%}"),
        ("Total run time", f"{figures['total_seconds']:.1f} s"),
    ]
    width = max(len(label) for label, _ in rows)
    print()
    print("Sanctions screening benchmark")
    print("-" * (width + 50))
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")
    print("-" * (width + 50))
    print()
    print(f"Per script at threshold {quality['threshold']:.2f} (before: the matcher at commit 0f8d277, same seed).")
    print("Recall: variants of names listed in the script (Latin: the quality figures above). False hits:")
    print("ordinary names in the script against the lists (OFAC full, UN and EU samples); a name that is a")
    print("listed person's name (word for word, with middle names dropped, or in another usual spelling) is")
    print("a namesake: its hit is a true name match, counted apart. Near namesakes: against the lists plus")
    print("the listed names of the recall test.")
    print("-" * (width + 50))
    for script, row in figures["scripts"].items():
        recall, false_hits = figures[f"recall_{script}"], figures[f"false_hits_{script}"]
        print(f"{script.ljust(9)} recall {recall['value']:6.2f}% (before {recall['before']:.2f}%)  "
              f"false hits {false_hits['value']:.2f}% ({false_hits['count']} of {false_hits['of']}; before "
              f"{false_hits['before']:.2f}%, target <= {false_hits['target']}%: "
              f"{'met' if false_hits['pass'] else 'NOT met'})  namesakes {row['namesakes']} "
              f"({row['namesake_hits']} hit; with them {false_hits['with_namesake_hits']:.2f}%)  near namesakes: "
              f"{row['near_namesake_false_hit_rate']:.2%} "
              f"({row['near_namesake_false_hits']} of {row['near_namesakes']})")
    one_letter = figures["recall_arabic_one_letter"]
    print(f"arabic, one letter wrong or swapped in the script: {one_letter['found']}/{one_letter['of']} "
          f"({one_letter['value']:.2f}%; before {one_letter['before']:.2f}%, target >= {one_letter['target']}%)")
    for script, row in figures["scripts"].items():
        for variant_type, counts in row.get("recall_by_type", {}).items():
            print(f"  {script}: {variant_type}: {counts['found']}/{counts['of']}")
        for line in row.get("sample_misses", []):
            print(f"  {script} miss: {line}")
        for line in row["sample_false_hits"]:
            print(f"  {script} false hit: {line}")
        for line in row["sample_namesake_hits"]:
            print(f"  {script} namesake hit: {line}")
        for line in row["sample_near_namesake_false_hits"]:
            print(f"  {script} near namesake false hit: {line}")
    print("-" * (width + 50))
    if quality["sample_misses"]:
        print("Some misses:", *quality["sample_misses"], sep="\n  ")
    if quality["sample_false_positives"]:
        print("Some false positives:", *quality["sample_false_positives"], sep="\n  ")


def write_results(figures: dict[str, Any], path: Path = RESULTS) -> None:
    results: dict[str, Any] = {}
    if path.exists():
        try:
            results = json.loads(path.read_text())
        except json.JSONDecodeError:
            results = {}
    results["screening"] = figures
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def main() -> dict[str, Any]:
    figures = run()
    print_table(figures)
    write_results(figures)
    print(f"\nFigures written to {RESULTS} (key \"screening\").")
    return figures


if __name__ == "__main__":
    main()
    sys.exit(0)
