"""Uploaded list files: telling which list a file is, putting it into the shape an import reads (the
OFAC folder of four CSVs, from a zip or the four files; the UN XML; FtM JSON lines) and reading it all
once before anything is queued, so a bad file is refused at the form with nothing saved."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

from .importers import OFAC_FILES, ListFormatError, parse
from .models import SOURCES
from .sources import remove_folder

# A zip expands to at most this much (the real OFAC folder is ~10 MB): refuses a zip bomb.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
_FILE_NAMES = {"un-xml": "consolidated.xml", "ftm": "entities.ftm.json"}


class UploadRefused(Exception):
    """The upload is not a list we can import; the message is for the form field."""


class Upload(Protocol):
    filename: str | None
    stream: IO[bytes]

    def save(self, dst: str) -> None: ...


@dataclass(frozen=True)
class StagedList:
    source: str
    path: Path  # what import_list reads: the OFAC folder, or the one file
    folder: Path  # the folder holding it, removed after the import
    filename: str  # the uploaded file name, or names, for people
    entries: int  # entries read while checking


def _head(upload: Upload, size: int = 4096) -> bytes:
    upload.stream.seek(0)
    head = upload.stream.read(size)
    upload.stream.seek(0)
    return head


def detect(uploads: Sequence[Upload]) -> str | None:
    """Which list the uploaded file or files are, from their names and first bytes; None if unclear."""
    names = {PurePosixPath((u.filename or "").replace("\\", "/")).name.lower() for u in uploads}
    if len(uploads) > 1 or names & set(OFAC_FILES):
        return "ofac-sdn"
    head = _head(uploads[0])
    if head.startswith(b"PK\x03\x04"):
        return "ofac-sdn"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return "un-xml" if b"CONSOLIDATED_LIST" in head.upper() else None
    if text.startswith(b"{"):
        return "ftm"
    return None


def stage_upload(uploads: Sequence[Upload], chosen: str | None, folder: Path) -> StagedList:
    """Check the upload and lay it out in `folder` for the import. Raises UploadRefused (and removes
    `folder`) when it is not a complete, readable list of the chosen (or detected) format."""
    try:
        return _stage(uploads, chosen, folder)
    except BaseException:
        remove_folder(folder)
        raise


def _stage(uploads: Sequence[Upload], chosen: str | None, folder: Path) -> StagedList:
    uploads = [u for u in uploads if u is not None and (u.filename or "").strip()]
    if not uploads:
        raise UploadRefused("Choose the list file to upload.")
    detected = detect(uploads)
    if chosen and detected and chosen != detected:
        raise UploadRefused(f"This looks like the {SOURCES[detected]} list, not {SOURCES[chosen]}: "
                            "choose the matching format or another file.")
    source = chosen or detected
    if source is None:
        raise UploadRefused("This file is not a list we can read (an OFAC SDN zip or its four CSV files, the UN "
                            "consolidated XML, or OpenSanctions FtM JSON lines). Choose the format if it is one.")
    filename = ", ".join(sorted((u.filename or "").strip() for u in uploads))[:500]
    folder.mkdir(parents=True, exist_ok=True)
    path = _lay_out(source, uploads, folder)
    entries = _count_entries(source, path, folder)
    return StagedList(source, path, folder, filename, entries)


def _lay_out(source: str, uploads: Sequence[Upload], folder: Path) -> Path:
    if source != "ofac-sdn":
        if len(uploads) > 1:
            raise UploadRefused(f"The {SOURCES[source]} list is one file; upload just that file.")
        target = folder / _FILE_NAMES[source]
        uploads[0].save(str(target))
        return target
    if len(uploads) == 1 and _head(uploads[0], 4).startswith(b"PK\x03\x04"):
        _unzip_ofac(uploads[0], folder)
        return folder
    by_name = {PurePosixPath((u.filename or "").replace("\\", "/")).name.lower(): u for u in uploads}
    missing = [name for name in OFAC_FILES if name not in by_name]
    unknown = sorted(set(by_name) - set(OFAC_FILES))
    if unknown or missing:
        raise UploadRefused("The OFAC SDN list is four CSV files (sdn.csv, add.csv, alt.csv, sdn_comments.csv) "
                            "uploaded together, or one zip holding them"
                            + (f"; missing: {', '.join(missing)}" if missing else "")
                            + (f"; not part of it: {', '.join(unknown)}" if unknown else "") + ".")
    for name in OFAC_FILES:
        by_name[name].save(str(folder / name))
    return folder


def _unzip_ofac(upload: Upload, folder: Path) -> None:
    """The four CSVs from a zip, by their base names wherever they sit in it (never a path of the zip's)."""
    try:
        with zipfile.ZipFile(upload.stream) as archive:
            members = {}
            for info in archive.infolist():
                name = PurePosixPath(info.filename).name.lower()
                if not info.is_dir() and name in OFAC_FILES and not info.filename.startswith("__MACOSX"):
                    members.setdefault(name, info)
            missing = [name for name in OFAC_FILES if name not in members]
            if missing:
                raise UploadRefused(f"The zip does not hold the whole OFAC SDN list; missing: {', '.join(missing)}.")
            if sum(info.file_size for info in members.values()) > MAX_UNPACKED_BYTES:
                raise UploadRefused("The zip unpacks to more than 512 MB; that is not an OFAC SDN list.")
            for name, info in members.items():
                written = 0
                with archive.open(info) as source, open(folder / name, "wb") as target:
                    while chunk := source.read(1 << 16):
                        written += len(chunk)
                        if written > MAX_UNPACKED_BYTES:  # the sizes in the zip's directory can lie
                            raise UploadRefused("The zip unpacks to more than 512 MB; that is not an OFAC SDN list.")
                        target.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as error:
        raise UploadRefused(f"The zip file cannot be opened ({error}).") from error
    except RuntimeError as error:  # an encrypted member
        raise UploadRefused(f"The zip file cannot be read ({error}).") from error


def _count_entries(source: str, path: Path, folder: Path) -> int:
    """Read the whole list once, so a broken line is reported now, at the form."""
    try:
        entries = sum(1 for _ in parse(source, path))
    except ListFormatError as error:
        message = str(error).replace(str(folder) + "/", "").replace(str(folder), "the upload")
        raise UploadRefused(f"This is not a valid {SOURCES[source]} file: {message}") from error
    except (OSError, ValueError) as error:
        raise UploadRefused(f"This file cannot be read as the {SOURCES[source]} list ({error}).") from error
    if entries == 0:
        raise UploadRefused(f"The file holds no {SOURCES[source]} entries; the current list is kept.")
    return entries
