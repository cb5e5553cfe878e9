"""The README's configuration table names every environment variable the application reads, and
nothing it does not read: a variable added to onboarding/config.py without a line there fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# os.environ.get("NAME" ...), os.environ["NAME"], _int("NAME", ...), _networks("NAME", ...)
READ = re.compile(r'''(?:environ\.get\(|environ\[|_int\(|_networks\()\s*["']([A-Z][A-Z0-9_]+)["']''')


def variables_read(*paths: Path) -> set[str]:
    return {name for path in paths for name in READ.findall(path.read_text())}


def configuration_table() -> set[str]:
    """Every `NAME` in the first column of the table under README's "## Configuration" heading."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split(" | ")[0])}


def test_every_variable_config_reads_is_in_the_readme_table():
    missing = variables_read(ROOT / "onboarding" / "config.py") - configuration_table()
    assert not missing, f"add these to README.md's Configuration table: {sorted(missing)}"


def test_the_readme_table_names_only_variables_something_reads():
    read = variables_read(*(ROOT / "onboarding").rglob("*.py"))
    scripts = "\n".join(path.read_text() for path in [*(ROOT / "scripts").glob("*.sh"), ROOT / "Makefile"])
    unread = {name for name in configuration_table() - read if not re.search(rf"\b{name}\b", scripts)}
    assert not unread, f"README.md documents variables nothing reads: {sorted(unread)}"


def test_the_pattern_finds_what_config_reads():
    found = variables_read(ROOT / "onboarding" / "config.py")
    assert {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "SMTP_PORT", "METRICS_ALLOWED_NETWORKS", "APP_ENV",
            "MAX_DOCUMENT_MB", "SANCTIONS_REFRESH_HOURS"} <= found
