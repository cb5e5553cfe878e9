"""Documents: records, encrypted storage, per-document checks."""
