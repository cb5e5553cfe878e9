"""Encrypted at-rest storage of files (uploaded documents, approval letters, e-mail attachments), and
the checks that decide what may be stored. Infrastructure (bytes and keys, no records): any part may
use it.

This module owns the bytes of a document: content sniffing (PDF, PNG, JPEG only), the size limit,
the SHA-256 of the plaintext, the on-disk file format and the file layout under the documents
directory. It knows nothing about document records or who may see them; callers pass an
`associated_data` value (for example the document record's id) that binds a stored file to its
record, so a file moved or copied under another record fails to open.

On-disk format (one file per document, AES-256-GCM in a chunked "STREAM" construction, as in
Tink's streaming AEAD and age)::

    b"OBDOC1" | key-id length (1 byte) | key id (UTF-8) | nonce prefix (7 random bytes)
    then for each 64 KiB plaintext chunk i:  sealed length (4 bytes, big-endian) | sealed chunk

Chunk i is sealed with nonce = prefix | i (4 bytes, big-endian) | last-chunk flag (1 byte) and
AAD = associated_data. Because the position and the "last" flag are inside the nonce, dropping,
reordering or appending chunks, or swapping chunks between files (different random prefixes),
makes authentication fail. Memory use is a few chunks, whatever the size of the document.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import logging
import os
import re
import secrets
import struct
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from .keyring import KeyRing
from .security import keyring

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
MAGIC = b"OBDOC1"
NONCE_PREFIX_SIZE = 7
TAG_SIZE = 16
MAX_DISPLAY_NAME_LENGTH = 200
# The chunk index is 4 bytes of the nonce; past this the nonce would repeat (256 TiB: never in practice).
_MAX_CHUNKS = 2**32
_LENGTH = struct.Struct(">I")
_STORAGE_KEY_RE = re.compile(r"[0-9a-f]{32}")

_PDF = b"%PDF-"
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


class UploadRefused(Exception):
    """An upload we will not store; `message` is fit to show to the person uploading."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TamperedDocument(Exception):
    """A stored file does not authenticate: altered, truncated, extended, swapped or unreadable.
    `message` is fit to show; `reason` is for logs only."""

    MESSAGE = "The stored file failed its integrity check."

    def __init__(self, reason: str = ""):
        super().__init__(self.MESSAGE)
        self.message = self.MESSAGE
        self.reason = reason


@dataclass(frozen=True)
class StoredBlob:
    storage_key: str
    key_id: str
    size: int
    sha256: str
    content_type: str


# ---------------------------------------------------------------------------
# Content checks.


def sniff_type(head: bytes) -> str | None:
    """The accepted content type the leading bytes show, or None. The browser-supplied type and
    the file name are never trusted: only the content decides."""
    if head.startswith(_PDF):
        return "application/pdf"
    if head.startswith(_PNG):
        return "image/png"
    if head.startswith(_JPEG):
        return "image/jpeg"
    return None


def describe_unaccepted(head: bytes) -> str:
    """A short phrase for what a refused file appears to be, so the refusal message is useful."""
    if not head:
        return "an empty file"
    if head.startswith(b"MZ"):
        return "a Windows program"
    if head.startswith(b"\x7fELF"):
        return "an ELF program"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive or Office document"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF image"
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:14].lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if b"<svg" in head[:4096].lower():
        return "an SVG drawing (a text format for images, not a scan)"
    if b"%PDF-" in head[:4096]:
        # Something (a comment line, a mail header, a byte-order mark) is written before the PDF's start.
        return ("a PDF with something written before its start, so it is not a valid PDF file "
                "(save or export it again as PDF)")
    if start.startswith(b"<?xml"):
        return "an XML file"
    if _looks_like_text(head):
        return "a text file"
    return "a file of an unknown type"


def _looks_like_text(head: bytes) -> bool:
    try:
        # Incremental, so a multi-byte character cut at the end of the chunk is not an error.
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    # Binary formats often decode as UTF-8 by chance but carry control bytes (NUL above all).
    return all(ch in "\t\n\r\f\v" or unicodedata.category(ch) != "Cc" for ch in text)


EXTENSION_FOR_TYPE = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
_SAME_TYPE_EXTENSIONS = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg",
                         ".jpeg": "image/jpeg", ".jpe": "image/jpeg"}
# Cc: control characters; Cf: bidirectional overrides and other invisible formatting; Zl/Zp: line and
# paragraph separators (would split headers and log lines); Cs: lone surrogates (cannot be encoded).
_HIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")


@dataclass(frozen=True)
class DisplayName:
    name: str
    changes: tuple[str, ...]  # what was changed, in words for the person who uploaded the file


def safe_display_name(filename: str, content_type: str) -> DisplayName:
    """The name to store and show for an uploaded file: never a path (storage keys are random), so
    the folder part is dropped; characters a reader cannot see (control characters, right-to-left
    overrides that make "exe.pdf" read as "fdp.exe") are removed; the extension follows the detected
    content type. The file is kept whatever its name; `changes` says what was altered."""
    changes: list[str] = []
    name = unicodedata.normalize("NFC", filename or "")
    if any(unicodedata.category(ch) in _HIDDEN_CATEGORIES for ch in name):
        name = "".join(ch for ch in name if unicodedata.category(ch) not in _HIDDEN_CATEGORIES)
        changes.append("removed characters you cannot see (control or right-to-left characters)")
    base = re.split(r"[/\\]", name)[-1]
    if base != name:
        changes.append("removed the folder part")
    name = base.strip().strip(".").strip()  # "..", or a name that is only dots, leaves nothing
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    wanted = EXTENSION_FOR_TYPE.get(content_type, "")
    if _SAME_TYPE_EXTENSIONS.get("." + extension.lower()) != content_type:
        if stem or extension:
            stem = name  # the old "extension" stays part of the name, so nothing the applicant wrote is lost
            changes.append(f"added “{wanted}” because the file is a {wanted.lstrip('.').upper()}")
        extension = wanted.lstrip(".")
    stem = stem.strip() or "document"
    limit = MAX_DISPLAY_NAME_LENGTH - len(extension) - 1
    if len(stem) > limit:
        stem = stem[:limit].rstrip()
        changes.append(f"shortened it to {MAX_DISPLAY_NAME_LENGTH} characters")
    return DisplayName(f"{stem}.{extension}" if extension else stem, tuple(changes))


def _size_phrase(max_bytes: int) -> str:
    if max_bytes >= 1024 * 1024:
        return f"{max_bytes // (1024 * 1024)} MB"
    return f"{max(max_bytes // 1024, 1)} KB"


# ---------------------------------------------------------------------------
# Storage.


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _read_full(stream: _Readable | BinaryIO, size: int) -> bytes:
    """Up to `size` bytes; fewer only at the end of the stream. Network and pipe streams may
    return short reads, and chunk boundaries must not depend on how the bytes arrived."""
    data = stream.read(size)
    if not data or len(data) == size:
        return data or b""
    parts = [data]
    remaining = size - len(data)
    while remaining > 0:
        data = stream.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    if remaining < 0:
        raise ValueError("stream returned more bytes than asked for")
    return b"".join(parts)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class DocumentStore:
    """Encrypted files under `root`, named by random storage keys, sealed with `ring`'s keys."""

    def __init__(self, root: str | os.PathLike[str], ring: KeyRing):
        self.root = Path(root)
        self.ring = ring

    def path_for(self, storage_key: str) -> Path:
        """The file for a storage key. Only our own key shape is accepted, so no caller-supplied
        value can point outside the store."""
        if not isinstance(storage_key, str) or not _STORAGE_KEY_RE.fullmatch(storage_key):
            raise ValueError("storage key must be 32 lowercase hexadecimal characters")
        return self.root / storage_key[:2] / storage_key

    def save(self, stream: _Readable | BinaryIO, *, max_bytes: int, associated_data: bytes) -> StoredBlob:
        """Check, hash and encrypt `stream` into a new file; raise UploadRefused (leaving nothing
        behind) for an empty, unaccepted or too large file."""
        current = _read_full(stream, CHUNK_SIZE)
        if not current:
            raise UploadRefused("The file is empty.")
        content_type = sniff_type(current)
        if content_type is None:
            raise UploadRefused(
                f"This file is not a PDF, PNG or JPEG: it looks like {describe_unaccepted(current)}. "
                "Upload a PDF, PNG or JPEG file."
            )
        too_large = UploadRefused(
            f"The file is larger than {_size_phrase(max_bytes)}. Upload a smaller file (for example a compressed PDF)."
        )
        if len(current) > max_bytes:
            raise too_large

        key_id = self.ring.current_id
        key_id_bytes = key_id.encode("utf-8")
        if not 1 <= len(key_id_bytes) <= 255:
            raise ValueError(f"key id {key_id!r} must be 1 to 255 bytes to fit the file header")
        aead = self.ring.aead(key_id)
        # 56 random bits per file; the 4-byte counter and flag make each chunk's nonce unique within
        # the file. Collisions between files under one key need ~2^28 files: rotate well before that.
        prefix = secrets.token_bytes(NONCE_PREFIX_SIZE)
        storage_key = secrets.token_hex(16)
        path = self.path_for(storage_key)
        self._make_directory(path.parent)

        # Temp file in the same directory so os.replace is an atomic rename; mkstemp makes it 0o600.
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(MAGIC + bytes([len(key_id_bytes)]) + key_id_bytes + prefix)
                digest = hashlib.sha256()
                size = 0
                index = 0
                while True:
                    size += len(current)
                    if size > max_bytes:
                        raise too_large
                    digest.update(current)
                    # One chunk of look-ahead tells whether this chunk is the last; a short chunk
                    # can only be the last one, so the stream is not read again after it.
                    following = _read_full(stream, CHUNK_SIZE) if len(current) == CHUNK_SIZE else b""
                    last = not following
                    sealed = aead.encrypt(_nonce(prefix, index, last), current, associated_data)
                    out.write(_LENGTH.pack(len(sealed)))
                    out.write(sealed)
                    if last:
                        break
                    index += 1
                    if index >= _MAX_CHUNKS:
                        raise too_large
                    current = following
                out.flush()
                # On disk before the rename, so a crash cannot leave a complete-looking empty file.
                os.fsync(out.fileno())
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        self._sync_directory(path.parent)
        return StoredBlob(
            storage_key=storage_key, key_id=key_id, size=size, sha256=digest.hexdigest(), content_type=content_type
        )

    def open_chunks(self, storage_key: str, *, associated_data: bytes) -> Iterator[bytes]:
        """Decrypted chunks, each authenticated before it is yielded. Truncation is only known at
        the end: a consumer has a verified whole file only once the iterator is exhausted without
        TamperedDocument. Errors (including FileNotFoundError) surface on the first iteration."""
        yield from self._chunks_of(self.path_for(storage_key), storage_key, associated_data)

    def _chunks_of(self, path: Path, storage_key: str, associated_data: bytes) -> Iterator[bytes]:
        with open(path, "rb") as source:
            aead, prefix = self._read_header(source, storage_key)
            sealed = self._read_sealed(source)
            if sealed is None:
                raise TamperedDocument("no chunks")
            index = 0
            while True:
                # Whether this chunk must carry the "last" flag depends on what follows it: a
                # missing final chunk or anything appended after it then fails to authenticate.
                following = self._read_sealed(source)
                last = following is None
                try:
                    plaintext = aead.decrypt(_nonce(prefix, index, last), sealed, associated_data)
                except InvalidTag:
                    raise TamperedDocument(f"chunk {index} does not authenticate") from None
                yield plaintext
                if last:
                    return
                index += 1
                if index >= _MAX_CHUNKS:
                    raise TamperedDocument("too many chunks")
                sealed = following

    def read_all(self, storage_key: str, *, associated_data: bytes) -> bytes:
        """The whole plaintext in memory: for small files and tests."""
        return b"".join(self.open_chunks(storage_key, associated_data=associated_data))

    def sealed_with(self, storage_key: str) -> str:
        """The id of the key a stored file is sealed under, read from its header (nothing decrypted)."""
        with open(self.path_for(storage_key), "rb") as source:
            return self._read_key_id(source)

    def reseal(self, storage_key: str, *, associated_data: bytes, expected_sha256: str | None = None) -> str:
        """Re-encrypt a stored file under the ring's current key, keeping its storage key, and return the
        id of the key it was sealed under before (the current id: nothing was done).

        Safe to interrupt and to run twice: the new file is written beside the old one, read back and
        hashed, and only then renamed over it (atomic), so the path always holds a whole file that one of
        the ring's keys opens, and a reader that already opened the old file keeps reading it. Raises
        TamperedDocument if the old file does not open or the plaintext's SHA-256 is not
        `expected_sha256`; the old file is then left as it was."""
        path = self.path_for(storage_key)
        old_key_id = self.sealed_with(storage_key)
        current_id = self.ring.current_id
        if old_key_id == current_id:
            return old_key_id
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".reseal-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                written = self._write_sealed(out, self._chunks_of(path, storage_key, associated_data),
                                             associated_data)
                out.flush()
                os.fsync(out.fileno())
            reread = hashlib.sha256()
            for chunk in self._chunks_of(Path(temp_name), storage_key, associated_data):
                reread.update(chunk)
            if reread.hexdigest() != written or (expected_sha256 and written != expected_sha256):
                raise TamperedDocument(f"re-sealed copy does not match: {written} read back as "
                                       f"{reread.hexdigest()}, record says {expected_sha256}")
            if not path.exists():
                # Deleted meanwhile (the record went): renaming now would bring back an orphan.
                raise FileNotFoundError(path)
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        self._sync_directory(path.parent)
        return old_key_id

    def _write_sealed(self, out: BinaryIO, chunks: Iterator[bytes], associated_data: bytes) -> str:
        """Seal plaintext chunks (as save() cut them) into `out` under the current key; their SHA-256."""
        key_id_bytes = self.ring.current_id.encode("utf-8")
        aead = self.ring.aead(self.ring.current_id)
        prefix = secrets.token_bytes(NONCE_PREFIX_SIZE)
        out.write(MAGIC + bytes([len(key_id_bytes)]) + key_id_bytes + prefix)
        digest = hashlib.sha256()
        current = next(chunks, None)
        if not current:
            raise TamperedDocument("no chunks")
        index = 0
        while True:
            following = next(chunks, None)
            last = following is None
            digest.update(current)
            sealed = aead.encrypt(_nonce(prefix, index, last), current, associated_data)
            out.write(_LENGTH.pack(len(sealed)))
            out.write(sealed)
            if last:
                return digest.hexdigest()
            index += 1
            current = following

    def stored_keys(self) -> Iterator[str]:
        """Every storage key with a file under the root (temporary files of unfinished writes excluded)."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir():
                for path in sorted(folder.iterdir()):
                    if _STORAGE_KEY_RE.fullmatch(path.name) and path.name[:2] == folder.name:
                        yield path.name

    def delete(self, storage_key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path_for(storage_key))

    # -- helpers --

    def _make_directory(self, directory: Path) -> None:
        # makedirs applies `mode` only to the last directory it creates, so create both levels
        # explicitly; existing directories keep their mode.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.mkdir(mode=0o700, exist_ok=True)

    @staticmethod
    def _sync_directory(directory: Path) -> None:
        # Makes the rename durable. The file is already complete and in place, so a platform or
        # file system that cannot fsync a directory is not a reason to report failure.
        with contextlib.suppress(OSError):
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @staticmethod
    def _read_key_id(source: BinaryIO) -> str:
        if source.read(len(MAGIC)) != MAGIC:
            raise TamperedDocument("bad magic")
        length = source.read(1)
        if len(length) != 1 or length[0] == 0:
            raise TamperedDocument("bad key id length")
        raw_id = source.read(length[0])
        if len(raw_id) != length[0]:
            raise TamperedDocument("short header")
        try:
            return raw_id.decode("utf-8")
        except UnicodeDecodeError:
            raise TamperedDocument("key id is not UTF-8") from None

    def _read_header(self, source: BinaryIO, storage_key: str) -> tuple[AESGCM, bytes]:
        key_id = self._read_key_id(source)
        prefix = source.read(NONCE_PREFIX_SIZE)
        if len(prefix) != NONCE_PREFIX_SIZE:
            raise TamperedDocument("short header")
        if key_id not in self.ring.keys:
            # Usually a configuration mistake (a retired key removed too early), so say so in the log.
            log.warning("document %s is sealed under key id %r, which is not in ENCRYPTION_KEYS", storage_key, key_id)
            raise TamperedDocument(f"unknown key id {key_id!r}")
        return self.ring.aead(key_id), prefix

    @staticmethod
    def _read_sealed(source: BinaryIO) -> bytes | None:
        """The next sealed chunk, or None at a clean end of file."""
        head = source.read(_LENGTH.size)
        if not head:
            return None
        if len(head) != _LENGTH.size:
            raise TamperedDocument("partial chunk length")
        (length,) = _LENGTH.unpack(head)
        # Bounded, so a forged length cannot make us allocate without limit.
        if not TAG_SIZE <= length <= CHUNK_SIZE + TAG_SIZE:
            raise TamperedDocument("chunk length out of range")
        sealed = source.read(length)
        if len(sealed) != length:
            raise TamperedDocument("partial chunk")
        return sealed


def document_store() -> DocumentStore:
    """The store for the current app, built on each call from its config and key ring (cheap),
    so a changed config or key ring is never hidden behind a cached instance."""
    root = current_app.config.get("DOCUMENTS_DIR") or os.path.join(current_app.instance_path, "documents")
    return DocumentStore(root, keyring())
