"""Append-only, hash-chained audit log. A sink: any module may record events; it imports no
feature module."""
