#!/usr/bin/env bash
# Back up the database and the document storage, consistently, into a new directory:
#
#   DATABASE_URL=postgresql+psycopg://... DOCUMENTS_DIR=/srv/onboarding/documents scripts/backup.sh /backups/2026-12-05
#
# The directory holds database.dump (pg_dump's custom format), documents/ (the encrypted files, as they
# are: a backup is no more readable than the live store) and MANIFEST (SHA-256 of every file, checked by
# scripts/restore.sh). It appears under its name only when complete; an interrupted run leaves NAME.partial.
#
# Why this order gives a consistent pair while the application keeps running: a stored file is written and
# fsynced before the row naming it commits, and is never changed in place (a re-seal renames a whole new file
# over the old one). So the files copied before the dump, plus those added between then and the end of the
# dump (copied after it, never overwriting), hold every file a row in the dump names. Files nobody names
# yet are harmless. The only gap is a file created during the dump and deleted again before the second
# copy, which needs its record deleted within those seconds; restore.sh's check reports any such file.
set -euo pipefail

dest=${1:?usage: scripts/backup.sh NEW_DIRECTORY}
: "${DATABASE_URL:?set DATABASE_URL to the PostgreSQL database, e.g. postgresql+psycopg://user@host/onboarding}"
documents=${DOCUMENTS_DIR:-instance/documents}
pg_dump=${PG_DUMP:-pg_dump}
# libpq does not know SQLAlchemy's "+driver" suffix.
pg_url=$(printf '%s' "$DATABASE_URL" | sed -E 's#^postgresql\+[a-z0-9]+://#postgresql://#')

case "$pg_url" in
  postgresql://*|postgres://*) ;;
  *) echo "backup.sh backs up PostgreSQL; DATABASE_URL is not a PostgreSQL address" >&2; exit 2 ;;
esac
if [ -e "$dest" ]; then echo "$dest already exists: give a new directory" >&2; exit 2; fi
if [ ! -d "$documents" ]; then echo "DOCUMENTS_DIR $documents is not a directory" >&2; exit 2; fi

work="$dest.partial"
rm -rf "$work"
mkdir -p "$work/documents"
chmod 700 "$work"

copy_documents() {  # extra tar options, e.g. --skip-old-files
  # *.part files are writes in progress (an upload or a re-seal not yet renamed into place).
  tar -C "$documents" --exclude='*.part' -cf - . | tar -C "$work/documents" -xf - "$@"
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
copy_documents
"$pg_dump" --format=custom --no-owner --no-acl --file="$work/database.dump" "$pg_url"
copy_documents --skip-old-files

(
  cd "$work"
  {
    echo "# onboarding backup: started $started, finished $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    find database.dump documents -type f -print0 | sort -z | xargs -0 -r sha256sum
  } > MANIFEST
)
mv "$work" "$dest"
echo "Backed up to $dest: database.dump ($(du -h "$dest/database.dump" | cut -f1)), \
$(find "$dest/documents" -type f | wc -l) stored files."
