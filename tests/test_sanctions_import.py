"""Importing sanctions lists: OFAC SDN CSV, UN consolidated XML, OpenSanctions FtM JSON lines.
Snapshots are atomic, re-imports are no-ops, broken files change nothing and say where they broke."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from onboarding.audit.models import AuditEvent
from onboarding.db import db
from onboarding.screening import lists
from onboarding.screening.cli import sanctions_cli
from onboarding.screening.importers import country_code, parse_ofac_dob
from onboarding.screening.lists import ListImportError, current_snapshot, current_snapshots, import_list
from onboarding.screening.models import ListAlias, ListEntry, ListSnapshot

from .fixtures import SANCTIONS_FIXTURES

OFAC_SAMPLE = SANCTIONS_FIXTURES / "ofac-sample"
OFAC_FULL = SANCTIONS_FIXTURES / "ofac-full"
UN_SAMPLE = SANCTIONS_FIXTURES / "un-sample" / "consolidated.xml"
FTM_SAMPLE = SANCTIONS_FIXTURES / "ftm-sample" / "entities.ftm.json"


def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.session.scalar(query)


def entry(snapshot: ListSnapshot, external_id: str) -> ListEntry:
    found = db.session.scalar(select(ListEntry).where(ListEntry.snapshot_id == snapshot.id,
                                                      ListEntry.external_id == external_id))
    assert found is not None, f"no entry {external_id}"
    return found


def names_of(item: ListEntry) -> dict[str, str]:
    return {alias.name: alias.quality for alias in item.aliases}


def import_and_commit(source: str, path) -> tuple[ListSnapshot, bool]:
    snapshot, created = import_list(source, path)
    db.session.commit()
    return snapshot, created


def copy_ofac(tmp_path: Path, name: str = "ofac") -> Path:
    folder = tmp_path / name
    shutil.copytree(OFAC_SAMPLE, folder)
    for file in folder.iterdir():
        file.chmod(0o644)
    return folder


# ---------------------------------------------------------------------------
# The three formats


def test_ofac_sample_imports_into_a_current_snapshot_with_its_counts(app):
    snapshot, created = import_and_commit("ofac-sdn", OFAC_SAMPLE)

    assert created is True
    assert snapshot.is_current and snapshot.source == "ofac-sdn"
    assert len(snapshot.file_sha256) == 64
    # 17 rows in sdn.csv; names: 17 primary + 13 alt.csv rows for listed entries (5 of the 18 rows
    # belong to entries not in the sample) + 16 a.k.a. in the remarks (one of them in sdn_comments.csv).
    assert (snapshot.entry_count, snapshot.alias_count) == (17, 46)
    assert count(ListEntry, snapshot_id=snapshot.id) == 17
    assert count(ListAlias, snapshot_id=snapshot.id) == 46
    kinds = dict(db.session.execute(select(ListEntry.kind, func.count()).where(ListEntry.snapshot_id == snapshot.id)
                                    .group_by(ListEntry.kind)).all())
    assert kinds == {"person": 4, "entity": 7, "vessel": 4, "aircraft": 2}

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "sanctions.imported"))
    assert event.subject_id == str(snapshot.id)
    assert event.details["source"] == "ofac-sdn"
    assert event.details["sha256"] == snapshot.file_sha256
    assert (event.details["entries"], event.details["aliases"]) == (17, 46)


def test_ofac_remarks_give_birth_dates_documents_nationalities_and_aliases(app):
    snapshot, _ = import_and_commit("ofac-sdn", OFAC_SAMPLE)

    logan = entry(snapshot, "10278")
    assert logan.name == "LOGAN MOREY, Elvis Angus" and logan.kind == "person"
    assert logan.birth_dates == ["1963-07-28"]
    assert {"type": "passport", "value": "P0017003", "country": "BZ"} in logan.identifiers
    assert {"type": "ssn", "value": "561-77-9011", "country": "US"} in logan.identifiers
    assert names_of(logan) == {"LOGAN MOREY, Elvis Angus": "primary", "BURTON BURGESS": "aka"}
    assert logan.programs == ["SDNT"]

    iami = entry(snapshot, "11195")
    assert iami.kind == "entity"
    assert {"type": "registration", "value": "26740", "country": "IR"} in iami.identifiers
    assert {"type": "national_id", "value": "10100722073", "country": "IR"} in iami.identifiers
    assert iami.countries == ["IR"]  # from add.csv
    assert iami.programs == ["NPWMD", "IFSR", "IRAN-CON-ARMS-EO"]
    aliases = names_of(iami)
    assert {"HESA", "HTC", "SHAHIN CO.", "HAVA PEYMA SAZI-E IRAN", "HESA TRADE CENTER",
            "KARKHANEJATE SANAYE HAVAPAYMAIE IRAN"} <= set(aliases)
    assert len(aliases) == 1 + 4 + 9

    gaddafi = entry(snapshot, "12685")
    assert {"type": "registration", "value": "CH-660.0.699.004-7", "country": "CH"} in gaddafi.identifiers

    lifshits = entry(snapshot, "29702")
    assert lifshits.birth_dates == ["1992-12-26"]
    assert lifshits.nationalities == ["RU"]
    assert {"type": "passport", "value": "719032284", "country": None} in lifshits.identifiers

    khoroshev = entry(snapshot, "48603")
    assert khoroshev.nationalities == ["RU"]  # "nationality Russia; citizen Russia"
    assert [i["value"] for i in khoroshev.identifiers if i["type"] == "passport"] == ["2018278055", "2006801524"]
    assert {"LOCKBITSUPP", "KHOROSHEV, Dmitriy Yurevich", "YURIEVICH, Dmitry"} <= set(names_of(khoroshev))

    # Remarks continue in sdn_comments.csv: the a.k.a. and the company number are only there.
    suex = entry(snapshot, "33151")
    assert "SUCCESSFUL EXCHANGE" in names_of(suex)
    assert {"type": "registration", "value": "07486049", "country": "CZ"} in suex.identifiers
    assert "1B64QRxfaa35MVkf7sDjuGUYAP5izQt7Qi" in suex.remarks

    bel_kap = entry(snapshot, "44525")
    assert {"type": "registration", "value": "0582030", "country": "US"} in bel_kap.identifiers

    assert entry(snapshot, "40716").kind == "vessel"
    assert entry(snapshot, "20540").kind == "aircraft"
    assert "-0-" not in (entry(snapshot, "20540").remarks or "")
    # alt.csv rows of entries that are not in sdn.csv are not imported
    assert count(ListAlias, name="KARADH AL-HASSAN") == 0


@pytest.mark.parametrize("text, expected", [
    ("28 Jul 1963", ["1963-07-28"]),
    ("1963", ["1963"]),
    ("circa 1960", ["1960"]),
    ("1960 to 1962", ["1960", "1961", "1962"]),
    ("Jul 1963", ["1963-07"]),
    ("01 Jan 1960 to 31 Dec 1962", ["1960", "1961", "1962"]),
    ("circa 1979-1982", ["1979", "1980", "1981", "1982"]),
    ("30 Nov 1955.", ["1955-11-30"]),
])
def test_ofac_birth_date_formats(text, expected):
    assert parse_ofac_dob(text) == expected


@pytest.mark.parametrize("name, code", [
    ("Iran", "IR"), ("Korea, North", "KP"), ("Russia", "RU"), ("Syria", "SY"), ("Venezuela", "VE"),
    ("Burma", "MM"), ("Belize", "BZ"), ("United States", "US"), ("Congo, Democratic Republic of the", "CD"),
    ("Democratic People's Republic of Korea", "KP"), ("Guinea-Bissau", "GW"), ("ru", "RU"), ("Atlantis", None),
])
def test_country_names_map_to_iso_codes(name, code):
    assert country_code(name) == code


def test_un_sample_imports_individuals_and_entities(app):
    snapshot, created = import_and_commit("un-xml", UN_SAMPLE)

    assert created
    # 25 individuals and 10 entities; names: 35 primary + 12 in original script + 73 aliases
    # (71 non-empty ALIAS_NAME elements, one of which lists three names separated by ";").
    assert (snapshot.entry_count, snapshot.alias_count) == (35, 120)
    assert count(ListEntry, snapshot_id=snapshot.id, kind="person") == 25
    assert count(ListEntry, snapshot_id=snapshot.id, kind="entity") == 10

    ntaganda = entry(snapshot, "CDi.030")
    assert ntaganda.name == "BOSCO TAGANDA"
    assert ntaganda.birth_dates == ["1973", "1974"]  # FROM_YEAR 1973 TO_YEAR 1974
    assert ntaganda.nationalities == ["CD"]
    assert ntaganda.countries == ["BE"]
    aliases = names_of(ntaganda)
    assert aliases["Bosco Ntaganda"] == "aka" and aliases["Terminator"] == "weak"

    camara = entry(snapshot, "GBi.001")
    assert camara.name == "IBRAIMA CAMARÁ"
    assert camara.birth_dates == ["1964-05-11"]
    assert camara.nationalities == ["GW"]
    assert camara.identifiers == [{"type": "passport", "value": "AAID00437", "country": "GW"}]

    tikriti = entry(snapshot, "IQi.013")
    assert tikriti.name == "IBRAHIM AHMAD ABD AL-SATTAR MUHAMMED AL-TIKRITI"  # four name parts
    assert "إبراهيم أحمد عبد الستار محمد التكريتي" in names_of(tikriti)
    assert tikriti.birth_dates == ["1950"]

    rezaie = entry(snapshot, "IRi.033")
    assert {"Mortaza Rezaie", "Mortaza Rezai", "Morteza Rezai"} <= set(names_of(rezaie))

    chaudhry = entry(snapshot, "QDi.312")
    assert {"type": "passport", "value": "BN 4196361", "country": "PK"} in chaudhry.identifiers
    assert {"type": "national_id", "value": "33202-7126636-9", "country": "PK"} in chaudhry.identifiers

    bank = entry(snapshot, "KPe.009")
    assert bank.kind == "entity" and bank.countries == ["KP"]
    assert {"AMROGGANG Development Bank", "Amnokkang Development Bank"} <= set(names_of(bank))
    assert entry(snapshot, "QDe.014").countries == ["DZ", "ML", "MR", "MA", "NE", "TN"]


def test_ftm_sample_imports_targets_with_names_in_every_script(app):
    snapshot, _ = import_and_commit("ftm", FTM_SAMPLE)

    # Seven lines: four persons, two organizations and an address (not a list entry).
    assert (snapshot.entry_count, snapshot.alias_count) == (6, 35)
    tobacco = entry(snapshot, "NK-2GdmHtZTeNXjNVrBGEXZNj")
    assert tobacco.kind == "entity" and tobacco.countries == ["BY"]
    assert {"type": "registration", "value": "808000714", "country": "BY"} in tobacco.identifiers
    names = names_of(tobacco)
    assert len(names) == 12
    assert "Общество с ограниченной ответственностью “Интер Тобако”" in names
    assert "Εταιρία περιορισμένης ευθύνης “Inter Tobacco”" in names

    kuzmenko = entry(snapshot, "NK-2Ka3UvopqbpZmVDFjWd4LA")
    assert kuzmenko.kind == "person" and kuzmenko.name == "Vitaly Yurievich KUZMENKO"
    assert kuzmenko.birth_dates == ["1971-01-22"] and kuzmenko.nationalities == ["RU"]
    assert "Виталий Юрьевич КУЗЬМЕНКО" in names_of(kuzmenko)
    assert {"type": "tax", "value": "366510784303", "country": "RU"} in kuzmenko.identifiers
    assert count(ListEntry, snapshot_id=snapshot.id, external_id="NK-2MQE6AmhAk4tqhENJAMUG9") == 0  # the address


def test_the_three_sources_are_current_side_by_side(app):
    import_and_commit("ofac-sdn", OFAC_SAMPLE)
    import_and_commit("un-xml", UN_SAMPLE)
    import_and_commit("ftm", FTM_SAMPLE)
    assert [s.source for s in current_snapshots()] == ["ftm", "ofac-sdn", "un-xml"]
    assert current_snapshot("un-xml").entry_count == 35


# ---------------------------------------------------------------------------
# Versions


def test_importing_the_same_file_again_changes_nothing(app):
    first, _ = import_and_commit("ofac-sdn", OFAC_SAMPLE)
    again, created = import_and_commit("ofac-sdn", OFAC_SAMPLE)

    assert created is False
    assert again.id == first.id and again.is_current
    assert count(ListSnapshot) == 1
    assert count(ListEntry) == 17
    assert count(AuditEvent, action="sanctions.imported") == 1


def test_a_changed_file_becomes_the_new_current_snapshot_and_the_old_one_is_kept(app, tmp_path):
    folder = copy_ofac(tmp_path)
    old, _ = import_and_commit("ofac-sdn", folder)
    rows = (folder / "sdn.csv").read_bytes().splitlines(keepends=True)
    (folder / "sdn.csv").write_bytes(b"".join(row for row in rows if not row.startswith(b"10278,")))

    new, created = import_and_commit("ofac-sdn", folder)

    assert created and new.id != old.id
    db.session.refresh(old)
    assert new.is_current and not old.is_current
    assert (new.entry_count, new.alias_count) == (16, 44)
    assert count(ListEntry, snapshot_id=old.id) == 17  # hits may point at the old entries
    assert current_snapshot("ofac-sdn").id == new.id
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sanctions.imported")
                               .order_by(AuditEvent.id.desc())).first()
    assert event.details["replaced_snapshot_ids"] == [old.id]


def test_going_back_to_an_earlier_file_makes_its_snapshot_current_again(app, tmp_path):
    folder = copy_ofac(tmp_path)
    first, _ = import_and_commit("ofac-sdn", folder)
    with open(folder / "alt.csv", "ab") as handle:
        handle.write(b'\n10278,99999,"aka","EXTRA NAME",-0- \n')
    second, _ = import_and_commit("ofac-sdn", folder)
    shutil.copy(OFAC_SAMPLE / "alt.csv", folder / "alt.csv")

    back, created = import_and_commit("ofac-sdn", folder)

    assert created is True and back.id == first.id
    db.session.refresh(second)
    assert back.is_current and not second.is_current
    assert count(ListSnapshot) == 2


# ---------------------------------------------------------------------------
# Broken input


def assert_nothing_imported_beyond(snapshots: int, entries: int) -> None:
    db.session.rollback()
    assert count(ListSnapshot) == snapshots
    assert count(ListEntry) == entries
    assert count(ListAlias) == db.session.scalar(select(func.coalesce(func.sum(ListSnapshot.alias_count), 0)))


def test_wrong_column_count_names_the_file_and_line(app, tmp_path):
    folder = copy_ofac(tmp_path)
    rows = (folder / "sdn.csv").read_text().splitlines(keepends=True)
    rows[4] = '15102,"MORENO, Daniel","individual"\n'
    (folder / "sdn.csv").write_text("".join(rows))

    with pytest.raises(ListImportError) as error:
        import_list("ofac-sdn", folder)

    assert "sdn.csv, line 5: expected 12 columns, found 3" in error.value.message
    assert_nothing_imported_beyond(0, 0)


def test_an_error_late_in_a_big_file_leaves_no_half_import_and_the_old_list_current(app, tmp_path, monkeypatch):
    good, _ = import_and_commit("ofac-sdn", OFAC_SAMPLE)
    folder = copy_ofac(tmp_path)
    with open(folder / "sdn.csv", "a") as handle:
        handle.write('99999,"BROKEN ROW"\n')
    monkeypatch.setattr(lists, "BATCH_SIZE", 5)  # so that rows are written before the error

    with pytest.raises(ListImportError) as error:
        import_list("ofac-sdn", folder)

    assert "sdn.csv, line 18" in error.value.message
    assert_nothing_imported_beyond(1, 17)
    assert current_snapshot("ofac-sdn").id == good.id


def test_windows_1252_text_is_read_but_binary_data_is_refused(app, tmp_path):
    folder = copy_ofac(tmp_path)
    sdn = (folder / "sdn.csv").read_bytes().replace(b'"MORENO, Daniel"', b'"MORE\xd1O, Jos\xe9"')
    (folder / "sdn.csv").write_bytes(sdn)
    snapshot, _ = import_and_commit("ofac-sdn", folder)
    assert entry(snapshot, "15102").name == "MOREÑO, José"

    broken = copy_ofac(tmp_path, "broken")
    (broken / "add.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00")
    with pytest.raises(ListImportError) as error:
        import_list("ofac-sdn", broken)
    assert "add.csv, line 3, column 1: binary data" in error.value.message

    undecodable = copy_ofac(tmp_path, "undecodable")
    with open(undecodable / "alt.csv", "ab") as handle:
        handle.write(b'10278,99999,"aka","BAD \x81 BYTE",-0- \n')
    with pytest.raises(ListImportError) as error:
        import_list("ofac-sdn", undecodable)
    assert "alt.csv, line 19" in error.value.message and "0x81" in error.value.message
    assert_nothing_imported_beyond(1, 17)


def test_a_missing_ofac_file_is_named(app, tmp_path):
    folder = copy_ofac(tmp_path)
    (folder / "sdn_comments.csv").unlink()
    with pytest.raises(ListImportError, match="sdn_comments.csv is missing"):
        import_list("ofac-sdn", folder)
    assert_nothing_imported_beyond(0, 0)


def test_truncated_xml_names_the_position(app, tmp_path, monkeypatch):
    data = UN_SAMPLE.read_bytes()
    truncated = tmp_path / "consolidated.xml"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    monkeypatch.setattr(lists, "BATCH_SIZE", 3)

    with pytest.raises(ListImportError) as error:
        import_list("un-xml", truncated)

    assert "consolidated.xml, line " in error.value.message and "invalid XML" in error.value.message
    assert_nothing_imported_beyond(0, 0)


def test_xml_with_a_doctype_or_another_root_is_refused(app, tmp_path):
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><CONSOLIDATED_LIST>&a;</CONSOLIDATED_LIST>')
    with pytest.raises(ListImportError, match="DOCTYPE"):
        import_list("un-xml", bomb)
    other = tmp_path / "other.xml"
    other.write_text("<?xml version='1.0'?>\n<sdnList><sdnEntry/></sdnList>")
    with pytest.raises(ListImportError, match="not <CONSOLIDATED_LIST>"):
        import_list("un-xml", other)
    assert_nothing_imported_beyond(0, 0)


def test_a_bad_json_line_names_the_line_and_column(app, tmp_path):
    lines = FTM_SAMPLE.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][:40]
    broken = tmp_path / "entities.ftm.json"
    broken.write_text("\n".join(lines), encoding="utf-8")

    with pytest.raises(ListImportError) as error:
        import_list("ftm", broken)

    assert "entities.ftm.json, line 3, column" in error.value.message
    assert "invalid JSON" in error.value.message
    assert_nothing_imported_beyond(0, 0)


def test_a_file_with_no_entries_does_not_replace_the_list(app, tmp_path):
    import_and_commit("ftm", FTM_SAMPLE)
    empty = tmp_path / "empty.json"
    empty.write_text('{"id": "a1", "schema": "Address", "properties": {"full": ["Somewhere"]}}\n')
    with pytest.raises(ListImportError, match="no list entries"):
        import_list("ftm", empty)
    assert_nothing_imported_beyond(1, 6)
    assert current_snapshot("ftm").entry_count == 6


# ---------------------------------------------------------------------------
# The command line


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        db.session.rollback()
        with app.app_context():
            result = runner.invoke(sanctions_cli, list(args))
        db.session.rollback()
        return result

    return invoke


def test_cli_import_prints_the_counts_and_is_idempotent(cli):
    result = cli("import", "--format", "ofac-sdn", str(OFAC_SAMPLE))
    assert result.exit_code == 0, result.output
    assert "Imported OFAC SDN" in result.output and "17 entries, 46 names" in result.output

    result = cli("import", "--format", "ofac-sdn", str(OFAC_SAMPLE))
    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.output

    result = cli("import", "--format", "un-xml", str(UN_SAMPLE))
    assert result.exit_code == 0 and "35 entries, 120 names" in result.output
    result = cli("status")
    assert "OFAC SDN: snapshot" in result.output and "UN Security Council: snapshot" in result.output
    assert count(ListSnapshot, is_current=True) == 2


def test_cli_import_error_exits_non_zero_with_the_message(cli, tmp_path):
    broken = tmp_path / "entities.ftm.json"
    broken.write_text('{"id": "x", "schema": "Person", "properties": {"name": ["A"]}}\n{not json}\n')

    result = cli("import", "--format", "ftm", str(broken))

    assert result.exit_code != 0
    assert "Import failed, nothing was changed" in result.output
    assert "entities.ftm.json, line 2, column 2: invalid JSON" in result.output
    assert count(ListSnapshot) == 0

    result = cli("import", "--format", "ofac-sdn", str(UN_SAMPLE))
    assert result.exit_code != 0 and "folder" in result.output


# ---------------------------------------------------------------------------
# The whole OFAC list


def test_the_full_ofac_list_imports_in_seconds(app):
    started = time.perf_counter()
    snapshot, _ = import_and_commit("ofac-sdn", OFAC_FULL)
    elapsed = time.perf_counter() - started

    assert snapshot.entry_count == 7379
    assert snapshot.alias_count > 17000
    assert count(ListEntry, snapshot_id=snapshot.id) == 7379
    assert count(ListAlias, snapshot_id=snapshot.id) == snapshot.alias_count
    assert elapsed < 20, f"import took {elapsed:.1f} s"
    # sdn_comments.csv of the full list ends with a DOS end-of-file mark (Ctrl-Z); its remarks
    # continue entries mid-word.
    assert "PROMO RAIZ S.A.S.; Linked To: RED MUNDIAL INMOBILIARIA" in entry(snapshot, "12300").remarks
