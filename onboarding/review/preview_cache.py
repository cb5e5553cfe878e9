"""Rendered document previews, kept in this process's memory so the case page does not rasterise
every document again each time a reviewer's decision reloads it (15 PDF pages took ~3 s of CPU, which
every decision posted meanwhile waited behind). A stored document never changes, so the entry for
(id, sha256) is always right; the cache is bounded in bytes and forgets the least recently used.
Memory, not disk or Redis: previews of identity documents are not written anywhere unencrypted."""

from __future__ import annotations

import threading
from collections import OrderedDict

MAX_BYTES = 64 * 1024 * 1024

_entries: OrderedDict[tuple[int, str], bytes] = OrderedDict()
_size = 0
_lock = threading.Lock()


def cached_preview(document_id: int, sha256: str) -> bytes | None:
    with _lock:
        png = _entries.get((document_id, sha256))
        if png is not None:
            _entries.move_to_end((document_id, sha256))
        return png


def keep_preview(document_id: int, sha256: str, png: bytes) -> None:
    global _size
    if len(png) > MAX_BYTES // 8:
        return
    with _lock:
        key = (document_id, sha256)
        if key in _entries:
            return
        _entries[key] = png
        _size += len(png)
        while _size > MAX_BYTES:
            _, dropped = _entries.popitem(last=False)
            _size -= len(dropped)


def forget_previews() -> None:
    global _size
    with _lock:
        _entries.clear()
        _size = 0
