"""Where the repository's folders are (templates, static assets, migrations, instance data). A leaf."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
