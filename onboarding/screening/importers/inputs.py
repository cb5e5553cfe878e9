"""The files that make up one list input and its SHA-256: one file for the UN XML and FtM JSON lines,
for the OFAC SDN list the folder of its four CSV files (`OFAC_FILES`), hashed in a fixed order.
Readers open their input through `input_files`, so a missing file is reported the same way by all."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .records import ListFormatError

OFAC_FILES = ("sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv")


def input_files(source: str, path: str | Path) -> list[Path]:
    """The files that make up one list input, in the fixed order they are hashed in."""
    path = Path(path)
    if source == "ofac-sdn":
        folder = path.parent if path.is_file() and path.name.lower() == "sdn.csv" else path
        if not folder.is_dir():
            raise ListFormatError(path, "the OFAC SDN list is a folder holding " + ", ".join(OFAC_FILES))
        files = [folder / name for name in OFAC_FILES]
        for file in files:
            if not file.is_file():
                raise ListFormatError(folder, f"{file.name} is missing (expected {', '.join(OFAC_FILES)})")
        return files
    if not path.is_file():
        raise ListFormatError(path, "no such file")
    return [path]


def input_sha256(source: str, path: str | Path) -> str:
    """SHA-256 of the input bytes; for the OFAC folder, of its four files in a fixed order."""
    files = input_files(source, path)
    digest = hashlib.sha256()
    for file in files:
        if len(files) > 1:
            digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        if len(files) > 1:
            digest.update(b"\0")
    return digest.hexdigest()
