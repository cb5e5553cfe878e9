"""Encrypted document storage: round trips, tamper detection, key rotation, refusals that leave
nothing behind, bounded memory for large uploads, and file-name checks."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import tracemalloc
import unicodedata
from pathlib import Path

import pytest
from flask import current_app

from onboarding.keyring import KeyRing
from onboarding.storage import (
    CHUNK_SIZE,
    DocumentStore,
    StoredBlob,
    TamperedDocument,
    UploadRefused,
    describe_unaccepted,
    document_store,
    safe_display_name,
    sniff_type,
)

MIB = 1024 * 1024
AAD = b"document:1"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def key_one() -> str:
    return new_key()


@pytest.fixture
def store(tmp_path, key_one) -> DocumentStore:
    return DocumentStore(tmp_path / "documents", KeyRing(f"k1:{key_one}"))


def pdf_bytes(size: int) -> bytes:
    body = b"%PDF-1.7\n" + bytes(range(256)) * (size // 256 + 1)
    return body[:size]


def files_under(root: Path) -> list[Path]:
    return [Path(folder) / name for folder, _, names in os.walk(root) for name in names]


def chunk_spans(raw: bytes) -> tuple[int, list[tuple[int, int]]]:
    """Header length and (start, end) of each length-prefixed sealed chunk in a stored file."""
    header = 6 + 1 + raw[6] + 7
    spans, position = [], header
    while position < len(raw):
        length = int.from_bytes(raw[position : position + 4], "big")
        spans.append((position, position + 4 + length))
        position += 4 + length
    return header, spans


class LazyStream:
    """A file-like object producing `size` bytes on demand (a PDF header then filler), never
    holding more than one read's worth; it refuses read() of everything to prove streaming."""

    def __init__(self, size: int, head: bytes = b"%PDF-1.7\n", max_read: int | None = None):
        self.size = size
        self.head = head
        self.position = 0
        self.max_read = max_read

    def read(self, n: int = -1) -> bytes:
        assert n is not None and n >= 0, "the store must not read the whole stream at once"
        if self.max_read is not None:
            n = min(n, self.max_read)
        n = min(n, self.size - self.position)
        if n <= 0:
            return b""
        start = self.position
        self.position += n
        if start < len(self.head):
            prefix = self.head[start : start + n]
            return prefix + b"\x20" * (n - len(prefix))
        return b"\x20" * n

    def expected_sha256(self) -> str:
        digest = hashlib.sha256()
        digest.update(self.head[: self.size])
        remaining = self.size - len(self.head)
        block = b"\x20" * CHUNK_SIZE
        while remaining > 0:
            step = min(remaining, CHUNK_SIZE)
            digest.update(block[:step])
            remaining -= step
        return digest.hexdigest()


# ---------------------------------------------------------------------------
# Round trips.


def test_small_pdf_round_trip_and_ciphertext_on_disk(store):
    payload = b"%PDF-1.4\nconfidential certificate of incorporation, ACME Holdings Ltd\n%%EOF\n"
    blob = store.save(io.BytesIO(payload), max_bytes=MIB, associated_data=AAD)

    assert isinstance(blob, StoredBlob)
    assert blob.size == len(payload)
    assert blob.sha256 == hashlib.sha256(payload).hexdigest()
    assert blob.content_type == "application/pdf"
    assert blob.key_id == "k1"
    assert len(blob.storage_key) == 32 and int(blob.storage_key, 16) >= 0
    assert store.read_all(blob.storage_key, associated_data=AAD) == payload

    raw = store.path_for(blob.storage_key).read_bytes()
    assert raw.startswith(b"OBDOC1\x02k1")
    assert b"ACME Holdings" not in raw and b"%PDF" not in raw


# Sizes around the chunk boundary: a size that is a multiple of the chunk size ends on a full last chunk.
@pytest.mark.parametrize("size", [300 * 1024, 2 * CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE + 1, 10])
def test_multi_chunk_round_trip(store, size):
    payload = pdf_bytes(size)
    blob = store.save(io.BytesIO(payload), max_bytes=MIB, associated_data=AAD)

    assert blob.size == len(payload)
    assert blob.sha256 == hashlib.sha256(payload).hexdigest()
    chunks = list(store.open_chunks(blob.storage_key, associated_data=AAD))
    assert b"".join(chunks) == payload
    assert all(len(chunk) <= CHUNK_SIZE for chunk in chunks)
    assert len(chunks) == max(1, -(-len(payload) // CHUNK_SIZE))
    raw = store.path_for(blob.storage_key).read_bytes()
    assert (payload[100:200] if size > 200 else payload) not in raw


def test_short_reads_do_not_change_the_result(store):
    stream = LazyStream(200 * 1024, max_read=1000)
    blob = store.save(stream, max_bytes=MIB, associated_data=AAD)

    assert blob.sha256 == LazyStream(200 * 1024).expected_sha256()
    chunks = list(store.open_chunks(blob.storage_key, associated_data=AAD))
    assert [len(chunk) for chunk in chunks] == [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE, 200 * 1024 - 3 * CHUNK_SIZE]


def test_png_and_jpeg_are_accepted(store):
    png = store.save(io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 50), max_bytes=MIB, associated_data=AAD)
    jpeg = store.save(io.BytesIO(b"\xff\xd8\xff\xe0" + b"\0" * 50), max_bytes=MIB, associated_data=AAD)
    assert (png.content_type, jpeg.content_type) == ("image/png", "image/jpeg")
    assert png.storage_key != jpeg.storage_key


def test_files_and_directories_are_private(store):
    blob = store.save(io.BytesIO(pdf_bytes(1000)), max_bytes=MIB, associated_data=AAD)
    path = store.path_for(blob.storage_key)

    assert path.parent.name == blob.storage_key[:2]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert files_under(store.root) == [path]


# ---------------------------------------------------------------------------
# Tampering.


@pytest.fixture
def stored(store):
    payload = pdf_bytes(300 * 1024)
    blob = store.save(io.BytesIO(payload), max_bytes=MIB, associated_data=AAD)
    return blob, store.path_for(blob.storage_key), payload


def test_flipped_byte_in_the_middle_is_detected(store, stored):
    blob, path, _ = stored
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))

    with pytest.raises(TamperedDocument) as caught:
        store.read_all(blob.storage_key, associated_data=AAD)
    assert caught.value.message == "The stored file failed its integrity check."
    assert str(caught.value) == caught.value.message


def test_dropping_the_last_chunk_is_detected(store, stored):
    blob, path, _ = stored
    raw = path.read_bytes()
    _, spans = chunk_spans(raw)
    assert len(spans) == 5
    path.write_bytes(raw[: spans[-1][0]])

    with pytest.raises(TamperedDocument):
        store.read_all(blob.storage_key, associated_data=AAD)


def test_truncation_inside_a_chunk_is_detected(store, stored):
    blob, path, _ = stored
    raw = path.read_bytes()
    path.write_bytes(raw[:-10])

    with pytest.raises(TamperedDocument):
        store.read_all(blob.storage_key, associated_data=AAD)


@pytest.mark.parametrize("extra", [b"\x00", b"\x00\x00\x00\x10" + b"x" * 16, b"junk" * 100])
def test_appended_bytes_are_detected(store, stored, extra):
    blob, path, _ = stored
    path.write_bytes(path.read_bytes() + extra)

    with pytest.raises(TamperedDocument):
        store.read_all(blob.storage_key, associated_data=AAD)


def test_reordered_chunks_are_detected(store, stored):
    blob, path, _ = stored
    raw = path.read_bytes()
    header, spans = chunk_spans(raw)
    first, second = (raw[start:end] for start, end in spans[:2])
    path.write_bytes(raw[:header] + second + first + raw[spans[2][0] :])

    with pytest.raises(TamperedDocument):
        store.read_all(blob.storage_key, associated_data=AAD)


def test_chunk_swapped_in_from_another_file_is_detected(store, stored):
    blob, path, payload = stored
    other = store.save(io.BytesIO(payload), max_bytes=MIB, associated_data=AAD)
    raw = path.read_bytes()
    other_raw = store.path_for(other.storage_key).read_bytes()
    _, spans = chunk_spans(raw)
    _, other_spans = chunk_spans(other_raw)
    start, end = spans[1]
    other_start, other_end = other_spans[1]
    path.write_bytes(raw[:start] + other_raw[other_start:other_end] + raw[end:])

    with pytest.raises(TamperedDocument):
        store.read_all(blob.storage_key, associated_data=AAD)
    # The donor file is untouched and still opens.
    assert store.read_all(other.storage_key, associated_data=AAD) == payload


def test_other_associated_data_is_refused(store, stored):
    blob, _, payload = stored
    with pytest.raises(TamperedDocument):
        store.read_all(blob.storage_key, associated_data=b"document:2")
    assert store.read_all(blob.storage_key, associated_data=AAD) == payload


def test_bad_header_and_unknown_key_are_refused(store, stored, tmp_path):
    blob, path, _ = stored
    stranger = DocumentStore(store.root, KeyRing(f"k9:{new_key()}"))
    with pytest.raises(TamperedDocument) as caught:
        stranger.read_all(blob.storage_key, associated_data=AAD)
    assert "unknown key id" in caught.value.reason

    path.write_bytes(b"NOTDOC" + path.read_bytes()[6:])
    with pytest.raises(TamperedDocument):
        store.read_all(blob.storage_key, associated_data=AAD)

    path.write_bytes(b"OBDOC1\x02k1")
    with pytest.raises(TamperedDocument):
        store.read_all(blob.storage_key, associated_data=AAD)


# ---------------------------------------------------------------------------
# Key rotation.


def test_old_files_open_after_rotation_and_new_files_use_the_new_key(tmp_path, key_one):
    root = tmp_path / "documents"
    payload = pdf_bytes(150 * 1024)
    old = DocumentStore(root, KeyRing(f"k1:{key_one}")).save(io.BytesIO(payload), max_bytes=MIB, associated_data=AAD)
    assert old.key_id == "k1"

    rotated = DocumentStore(root, KeyRing(f"k2:{new_key()},k1:{key_one}"))
    assert rotated.read_all(old.storage_key, associated_data=AAD) == payload

    new = rotated.save(io.BytesIO(payload), max_bytes=MIB, associated_data=AAD)
    assert new.key_id == "k2"
    assert rotated.path_for(new.storage_key).read_bytes().startswith(b"OBDOC1\x02k2")
    assert rotated.read_all(new.storage_key, associated_data=AAD) == payload


# ---------------------------------------------------------------------------
# Refusals leave nothing behind.


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"", "The file is empty."),
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "it looks like a Windows program"),
        (b"GIF89a\x01\x00\x01\x00", "it looks like a GIF image"),
        (b"\x7fELF\x02\x01\x01", "it looks like an ELF program"),
        (b"PK\x03\x04\x14\x00", "it looks like a ZIP archive or Office document"),
        (b"  <!DOCTYPE html><html></html>", "it looks like an HTML page"),
    ],
)
def test_refused_content_leaves_no_file(store, content, phrase):
    with pytest.raises(UploadRefused) as caught:
        store.save(io.BytesIO(content), max_bytes=MIB, associated_data=AAD)
    assert phrase in caught.value.message
    if content:
        assert caught.value.message.endswith("Upload a PDF, PNG or JPEG file.")
    assert files_under(store.root) == []


def test_oversized_stream_is_refused_while_streaming_and_leaves_no_file(store):
    store.save(io.BytesIO(pdf_bytes(1000)), max_bytes=MIB, associated_data=AAD)  # an existing document stays
    before = files_under(store.root)
    stream = LazyStream(21 * MIB)

    with pytest.raises(UploadRefused) as caught:
        store.save(stream, max_bytes=20 * MIB, associated_data=AAD)

    assert caught.value.message == (
        "The file is larger than 20 MB. Upload a smaller file (for example a compressed PDF)."
    )
    # Refused as soon as the limit was passed, not after reading everything.
    assert stream.position <= 20 * MIB + 2 * CHUNK_SIZE
    assert files_under(store.root) == before


def test_size_limit_is_exact(store):
    limit = 3 * CHUNK_SIZE
    blob = store.save(io.BytesIO(pdf_bytes(limit)), max_bytes=limit, associated_data=AAD)
    assert blob.size == limit
    with pytest.raises(UploadRefused):
        store.save(io.BytesIO(pdf_bytes(limit + 1)), max_bytes=limit, associated_data=AAD)
    assert files_under(store.root) == [store.path_for(blob.storage_key)]


def test_stream_error_mid_upload_leaves_no_file(store):
    class Broken(LazyStream):
        def read(self, n: int = -1) -> bytes:
            if self.position >= 3 * CHUNK_SIZE:
                raise OSError("client went away")
            return super().read(n)

    with pytest.raises(OSError, match="client went away"):
        store.save(Broken(MIB), max_bytes=20 * MIB, associated_data=AAD)
    assert files_under(store.root) == []


def test_large_upload_uses_bounded_memory(store):
    size = 20 * MIB
    stream = LazyStream(size)
    tracemalloc.start()
    try:
        blob = store.save(stream, max_bytes=20 * MIB, associated_data=AAD)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    print(f"peak traced memory for a 20 MiB save: {peak / 1024:.0f} KiB")
    assert peak < 8 * MIB
    assert blob.size == size
    assert blob.sha256 == LazyStream(size).expected_sha256()
    on_disk = store.path_for(blob.storage_key).stat().st_size
    assert size < on_disk < size + 1024 * 20  # 320 chunks of 20 bytes overhead, plus the header

    digest = hashlib.sha256()
    for chunk in store.open_chunks(blob.storage_key, associated_data=AAD):
        digest.update(chunk)
    assert digest.hexdigest() == blob.sha256


# ---------------------------------------------------------------------------
# Keys, deletion and the app's store.


@pytest.mark.parametrize("bad", ["../../x", "", "A" * 32, "0" * 31, "0" * 33, "0" * 30 + "/x", None])
def test_path_for_refuses_anything_but_a_storage_key(store, bad):
    with pytest.raises(ValueError):
        store.path_for(bad)


def test_delete_removes_the_file_and_ignores_missing_ones(store):
    blob = store.save(io.BytesIO(pdf_bytes(1000)), max_bytes=MIB, associated_data=AAD)
    store.delete(blob.storage_key)
    assert files_under(store.root) == []
    store.delete(blob.storage_key)  # already gone: no error
    store.delete("0" * 32)  # never existed: no error
    with pytest.raises(FileNotFoundError):
        store.read_all(blob.storage_key, associated_data=AAD)


def test_document_store_follows_the_app(app, tmp_path):
    current_app.config.pop("DOCUMENTS_DIR", None)
    assert document_store().root == Path(current_app.instance_path) / "documents"

    current_app.config["DOCUMENTS_DIR"] = str(tmp_path / "docs")
    store = document_store()
    assert store.root == tmp_path / "docs"
    assert store.ring.current_id == current_app.extensions["keyring"].current_id

    payload = pdf_bytes(70 * 1024)
    blob = store.save(io.BytesIO(payload), max_bytes=MIB, associated_data=AAD)
    assert document_store().read_all(blob.storage_key, associated_data=AAD) == payload
    assert files_under(tmp_path / "docs") == [store.path_for(blob.storage_key)]


# ---------------------------------------------------------------------------
# Content sniffing and file names.


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\0\0", "image/png"),
        (b"\xff\xd8\xff\xdb", "image/jpeg"),
        (b"PDF-1.7", None),
        (b" %PDF-1.7", None),
        (b"", None),
    ],
)
def test_sniff_type(head, expected):
    assert sniff_type(head) == expected


@pytest.mark.parametrize(
    ("head", "phrase"),
    [
        (b"MZ\x90\x00", "a Windows program"),
        (b"\x7fELF\x02", "an ELF program"),
        (b"PK\x03\x04", "a ZIP archive or Office document"),
        (b"GIF87a", "a GIF image"),
        (b"\n\t <HTML lang=en>", "an HTML page"),
        (b"\xef\xbb\xbf<!doctype HTML>", "an HTML page"),
        ("Bank statement — März\n".encode(), "a text file"),
        # A multi-byte character cut at the end of the first chunk is still text.
        (b"x" * (CHUNK_SIZE - 1) + "é".encode()[:1], "a text file"),
        (b"\x00\x01\x02binary", "a file of an unknown type"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>ID</text></svg>',
         "an SVG drawing (a text format for images, not a scan)"),
        (b"<svg width='10' height='10'></svg>", "an SVG drawing (a text format for images, not a scan)"),
        (b"% scanned by OfficeJet\n%PDF-1.7\n1 0 obj", "a PDF with something written before its start, so it is "
         "not a valid PDF file (save or export it again as PDF)"),
        (b'<?xml version="1.0"?><invoice/>', "an XML file"),
        (b"\xc3\x28 invalid utf-8", "a file of an unknown type"),
    ],
)
def test_describe_unaccepted(head, phrase):
    assert describe_unaccepted(head) == phrase


def test_safe_display_name_accepts_and_normalises():
    for name in ("report.pdf", "  Auszug März 2024.pdf ", "Cafe\u0301.pdf", "x" * 196 + ".pdf"):
        cleaned = safe_display_name(name, "application/pdf")
        assert cleaned.changes == (), name
    assert safe_display_name("  Auszug März 2024.pdf ", "application/pdf").name == "Auszug März 2024.pdf"
    assert safe_display_name("Cafe\u0301.pdf", "application/pdf").name == "Caf\u00e9.pdf"
    assert safe_display_name("scan.JPEG", "image/jpeg").name == "scan.JPEG"


@pytest.mark.parametrize(
    "name, content_type, shown, change",
    [
        ("../etc/passwd", "application/pdf", "passwd.pdf", "folder part"),
        ("C:\\Users\\ana\\..\\scan.png", "image/png", "scan.png", "folder part"),
        ("a\x00b.pdf", "application/pdf", "ab.pdf", "characters you cannot see"),
        ("invoice\u202efdp.exe", "application/pdf", "invoicefdp.exe.pdf", "characters you cannot see"),
        ("line\u2028break.pdf", "application/pdf", "linebreak.pdf", "characters you cannot see"),
        ("zero\u200bwidth.pdf", "application/pdf", "zerowidth.pdf", "characters you cannot see"),
        ("photo.pdf", "image/jpeg", "photo.pdf.jpg", "because the file is a JPG"),
        ("..", "application/pdf", "document.pdf", None),
        ("", "image/png", "document.png", None),
        ("a" * 296 + ".pdf", "application/pdf", "a" * 196 + ".pdf", "shortened"),
    ],
)
def test_safe_display_name_keeps_the_file_and_says_what_changed(name, content_type, shown, change):
    cleaned = safe_display_name(name, content_type)
    assert cleaned.name == shown
    if change:
        assert any(change in c for c in cleaned.changes), cleaned.changes
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in cleaned.name)
    assert "/" not in cleaned.name and "\\" not in cleaned.name
