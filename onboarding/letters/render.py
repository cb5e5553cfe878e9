"""Turning a letter's frozen facts into a PDF with WeasyPrint.

The letter is rendered from its facts alone, so the same facts always give the same letter and
rendering needs no database. WeasyPrint fetches nothing but what this module allows: the
stylesheet and logo bundled in `static/letters/` and `data:` URIs (the QR code). Anything else,
a network address, another file, a `file:` path walking out of the folder, stops the rendering,
so a letter can never be made to call out or to include a file from the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import segno
from flask import render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from ..paths import ROOT

ASSETS_DIR = ROOT / "static" / "letters"
ASSET_TYPES = {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}


class LetterAssetRefused(ValueError):
    """The letter asked for something outside its bundled assets."""


class BundledAssetFetcher(URLFetcher):
    """Serves files under `root` and `data:` URIs; refuses everything else. Rendering stops on a
    refusal (fail_on_errors) rather than producing a letter with a piece missing."""

    def __init__(self, root: Path = ASSETS_DIR):
        super().__init__(allowed_protocols=("data",), allow_redirects=False, fail_on_errors=True)
        self.root = root.resolve()

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file":
            return self._bundled_file(url)
        raise LetterAssetRefused(f"letters may not fetch {url!r}: only bundled assets and data: URIs")

    def _bundled_file(self, url: str) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise LetterAssetRefused(f"letters may not fetch {url!r}: not a local bundled file")
        path = Path(url2pathname(parts.path)).resolve()
        # resolve() follows symbolic links and "..", so this is the file that would really be read.
        if not path.is_relative_to(self.root) or not path.is_file() or path.suffix not in ASSET_TYPES:
            raise LetterAssetRefused(f"letters may not fetch {url!r}: not one of the bundled letter assets")
        return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": ASSET_TYPES[path.suffix]})


def qr_data_uri(url: str) -> str:
    """The verification URL as a QR code, an SVG in a data: URI (nothing to fetch). No quiet zone is
    drawn: the letter's layout leaves white space around it."""
    return segno.make(url, error="m", micro=False).svg_data_uri(scale=4, border=0, dark="#0b1f33", omitsize=True)


def letter_html(facts: dict[str, Any]) -> str:
    return render_template("letters/letter.html", facts=facts, qr=qr_data_uri(facts["verification"]["url"]))


def render_pdf(facts: dict[str, Any]) -> bytes:
    """The letter as PDF bytes. Relative links in the template resolve inside the assets folder."""
    document = HTML(string=letter_html(facts), base_url=ASSETS_DIR.as_uri() + "/", url_fetcher=BundledAssetFetcher())
    return document.write_pdf()
