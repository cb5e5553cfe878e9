"""The official addresses of the lists and downloading them.

A download is written to a folder shaped like an import input (the four OFAC CSVs, `consolidated.xml`,
`entities.ftm.json`) and is refused whole when anything is off: an HTTP error, a connection cut short
(fewer bytes than the server announced), an empty body, or more than the configured maximum. The
import then only ever sees complete files."""

from __future__ import annotations

import http.client
import shutil
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from .importers import OFAC_FILES

USER_AGENT = "institutional-onboarding sanctions-list refresh"
CHUNK = 1 << 16


class DownloadError(Exception):
    """A list could not be downloaded completely; the message says which address and why."""


def official_files(source: str, config: Mapping[str, Any]) -> dict[str, str]:
    """File name -> address of the configured official download of `source`; empty when not configured."""
    if source == "ofac-sdn":
        base = (config.get("SANCTIONS_OFAC_SDN_URL") or "").strip()
        if not base:
            return {}
        base = base if base.endswith("/") else base + "/"
        return {name: urljoin(base, name) for name in OFAC_FILES}
    if source == "un-xml":
        url = (config.get("SANCTIONS_UN_XML_URL") or "").strip()
        return {"consolidated.xml": url} if url else {}
    if source == "ftm":
        url = (config.get("SANCTIONS_FTM_URL") or "").strip()
        return {"entities.ftm.json": url} if url else {}
    return {}


def official_address(source: str, config: Mapping[str, Any]) -> str | None:
    """The address shown to people: the OFAC folder, or the one file's URL."""
    files = official_files(source, config)
    if not files:
        return None
    if source == "ofac-sdn":
        return (config.get("SANCTIONS_OFAC_SDN_URL") or "").strip()
    return next(iter(files.values()))


def download(source: str, folder: Path, config: Mapping[str, Any]) -> Path:
    """Download the official files of `source` into `folder`; returns the import input (the folder for
    OFAC, the file otherwise). Raises DownloadError; partial files are removed."""
    files = official_files(source, config)
    if not files:
        raise DownloadError(f"no official address is configured for {source}")
    timeout = float(config.get("SANCTIONS_DOWNLOAD_TIMEOUT", 60))
    limit = int(config.get("SANCTIONS_MAX_DOWNLOAD_MB", 1024)) * 1024 * 1024
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        for name, url in files.items():
            target = folder / name
            written.append(target)
            fetch(url, target, timeout=timeout, limit=limit)
    except DownloadError:
        for target in written:
            target.unlink(missing_ok=True)
        raise
    return folder if source == "ofac-sdn" else folder / next(iter(files))


def fetch(url: str, target: Path, *, timeout: float, limit: int) -> int:
    """Stream one address into `target`; returns the bytes written."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise DownloadError(f"{url}: only http and https addresses are downloaded")
    request = urllib.request.Request(  # noqa: S310 (http and https only, checked above)
        url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    received = 0
    try:
        # The scheme is checked above: http and https only, never file: or ftp:.
        opened = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310  # nosec B310 (scheme checked above)
        with opened as response, open(target, "wb") as out:
            announced = response.headers.get("Content-Length")
            expected = int(announced) if announced and announced.isdigit() else None
            if expected is not None and expected > limit:
                raise DownloadError(f"{url}: {expected} bytes is more than the {limit // (1024 * 1024)} MB allowed")
            while chunk := response.read(CHUNK):
                received += len(chunk)
                if received > limit:
                    raise DownloadError(f"{url}: more than the {limit // (1024 * 1024)} MB allowed")
                out.write(chunk)
            if expected is not None and received != expected:
                raise DownloadError(f"{url}: truncated download, {received} of {expected} bytes received")
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{url}: the server answered HTTP {error.code} {error.reason}") from error
    except http.client.IncompleteRead as error:
        raise DownloadError(f"{url}: truncated download, the connection closed after "
                            f"{received + len(error.partial)} bytes") from error
    except urllib.error.URLError as error:
        raise DownloadError(f"{url}: cannot be reached ({error.reason})") from error
    except TimeoutError as error:
        raise DownloadError(f"{url}: no answer within {timeout:g} seconds") from error
    except (http.client.HTTPException, ConnectionError) as error:
        raise DownloadError(f"{url}: the connection failed ({error.__class__.__name__}: {error})") from error
    if received == 0:
        raise DownloadError(f"{url}: the server sent an empty file")
    return received


def remove_folder(folder: str | Path | None) -> None:
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
