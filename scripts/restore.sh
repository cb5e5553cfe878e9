#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into an EMPTY database and a new document directory, then
# check it (the restore drill):
#
#   DATABASE_URL=postgresql+psycopg://.../onboarding_restored DOCUMENTS_DIR=/srv/restored/documents \
#     scripts/restore.sh /backups/2026-12-05
#
# Run it with the production ENCRYPTION_KEYS (including any key the backup's files are still sealed under)
# and the same environment the application uses. Steps: verify the backup's MANIFEST (SHA-256 of the dump
# and of every file), pg_restore in one transaction (a non-empty database makes it fail and change
# nothing), copy the files, then `flask audit verify` (the hash chain is intact) and
# `flask encryption reseal --dry-run` (every stored file is there, with the key it is sealed under).
set -euo pipefail

backup=${1:?usage: scripts/restore.sh BACKUP_DIRECTORY}
: "${DATABASE_URL:?set DATABASE_URL to an empty PostgreSQL database}"
: "${DOCUMENTS_DIR:?set DOCUMENTS_DIR to a new (or empty) directory for the documents}"
pg_restore=${PG_RESTORE:-pg_restore}
python=${PYTHON:-.venv/bin/python}
pg_url=$(printf '%s' "$DATABASE_URL" | sed -E 's#^postgresql\+[a-z0-9]+://#postgresql://#')

if [ ! -f "$backup/MANIFEST" ] || [ ! -f "$backup/database.dump" ]; then
  echo "$backup is not a complete backup (no MANIFEST or database.dump)" >&2; exit 2
fi
if [ -d "$DOCUMENTS_DIR" ] && [ -n "$(ls -A "$DOCUMENTS_DIR")" ]; then
  echo "DOCUMENTS_DIR $DOCUMENTS_DIR is not empty: restore into a new directory" >&2; exit 2
fi

echo "1/4 Checking the backup against its MANIFEST..."
(cd "$backup" && grep -v '^#' MANIFEST | sha256sum --check --quiet --strict)

echo "2/4 Restoring the database..."
"$pg_restore" --no-owner --no-acl --exit-on-error --single-transaction --dbname="$pg_url" "$backup/database.dump"

echo "3/4 Restoring the documents..."
mkdir -p "$DOCUMENTS_DIR"
chmod 700 "$DOCUMENTS_DIR"
tar -C "$backup/documents" -cf - . | tar -C "$DOCUMENTS_DIR" -xf -

echo "4/4 Checking the restored system..."
"$python" -m flask --app app audit verify
"$python" -m flask --app app encryption reseal --dry-run
echo "Restored from $backup."
