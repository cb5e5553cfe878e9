"""Render the gateway's nginx configuration from nginx.conf.template (standard library only).

    python3 deploy/nginx/render.py --prefix /srv/gateway --listen 127.0.0.1:8080 \\
        --authorize-url http://10.0.1.5:8000 --trading 10.0.2.7:9000 \\
        --token-file /etc/nginx/secrets/authorize-token.conf > /srv/gateway/nginx.conf

`--write-token-file TOKEN` (or the TOKEN read from stdin with `-`) writes the token include file
(mode 0600) instead. Every @@NAME@@ in the template must be filled; anything else is left as is.
Also imported by the tests (tests/gateway.py)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "nginx.conf.template"
NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so"
AUTHORIZE_PATH = "/api/v1/authorize"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# What may go into the config without quoting trouble: no whitespace, quotes, braces or semicolons.
_SAFE = re.compile(r"^[A-Za-z0-9._:/\[\]@~%+=,-]+$")
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{16,512}$")
_SIZE = re.compile(r"^\d+[kKmM]?$")
_DURATION = re.compile(r"^\d+(ms|s|m)?$")


def _safe(name: str, value: str, pattern: re.Pattern = _SAFE) -> str:
    if not pattern.match(value):
        raise ValueError(f"{name}={value!r} cannot go into the nginx configuration")
    return value


def token_include(token: str) -> str:
    """The include file's text: the Authorization header nginx sends to the authorize API."""
    _safe("token", token, _TOKEN)
    return f'proxy_set_header Authorization "Bearer {token}";\n'


def write_token_file(path: str | os.PathLike, token: str) -> Path:
    """Write the token include file readable only by its owner (nginx's master reads it as root)."""
    path = Path(path)
    text = token_include(token)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    return path


def render(
    *,
    prefix: str | os.PathLike,
    listen: str,
    authorize_url: str,
    trading: str,
    token_file: str | os.PathLike,
    js_dir: str | os.PathLike = HERE,
    key_header: str = "X-MEXC-APIKEY",
    max_body: str = "64k",
    authorize_timeout: str = "2s",
    authorize_connect_timeout: str = "1s",
    trading_timeout: str = "10s",
    worker_processes: str = "auto",
    error_log_level: str = "warn",
    daemon: bool = True,
    real_ip_from: list[str] | tuple[str, ...] = (),
    real_ip_header: str = "X-Forwarded-For",
    tls_certificate: str | None = None,
    tls_certificate_key: str | None = None,
    authorize_ca: str = SYSTEM_CA_BUNDLE,
    njs_module: str = NJS_MODULE,
    template: str | None = None,
) -> str:
    """The nginx.conf text. `authorize_url` is the onboarding service's base URL (http or https,
    optionally with a path prefix; https is verified against `authorize_ca`); `trading` is the trading
    upstream's host:port."""
    parts = urlsplit(authorize_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"authorize_url must be http(s)://host:port[/prefix], not {authorize_url!r}")
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    server = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    real_ip = "".join(f"    set_real_ip_from {_safe('real_ip_from', net)};\n" for net in real_ip_from)
    if real_ip:
        real_ip += f"    real_ip_header {_safe('real_ip_header', real_ip_header)};\n    real_ip_recursive on;\n"
    tls = ""
    if tls_certificate or tls_certificate_key:
        if not (tls_certificate and tls_certificate_key):
            raise ValueError("give both tls_certificate and tls_certificate_key")
        tls = (f"        ssl_certificate {_safe('tls_certificate', tls_certificate)};\n"
               f"        ssl_certificate_key {_safe('tls_certificate_key', tls_certificate_key)};\n"
               "        ssl_protocols TLSv1.2 TLSv1.3;\n")
        listen = f"{listen} ssl"
    verify = ""
    if parts.scheme == "https":
        verify = ("            proxy_ssl_verify on;\n            proxy_ssl_verify_depth 3;\n"
                  f"            proxy_ssl_trusted_certificate {_safe('authorize_ca', authorize_ca)};\n")
    values = {
        "NJS_MODULE": _safe("njs_module", str(njs_module)),
        "WORKER_PROCESSES": _safe("worker_processes", str(worker_processes)),
        "PREFIX": _safe("prefix", str(Path(prefix).resolve())),
        "ERROR_LOG_LEVEL": _safe("error_log_level", error_log_level),
        "DAEMON": "" if daemon else "daemon off;",
        "JS_DIR": _safe("js_dir", str(Path(js_dir).resolve())),
        "REAL_IP": real_ip.rstrip("\n"),
        "AUTHORIZE_SERVER": _safe("authorize_url", server),
        "AUTHORIZE_SCHEME": parts.scheme,
        "AUTHORIZE_HOST": _safe("authorize_url", parts.netloc),
        "AUTHORIZE_HOSTNAME": _safe("authorize_url", host),
        "AUTHORIZE_TLS_VERIFY": verify.rstrip("\n"),
        "AUTHORIZE_PATH": _safe("authorize_url", parts.path.rstrip("/") + AUTHORIZE_PATH),
        "AUTHORIZE_TIMEOUT": _safe("authorize_timeout", authorize_timeout, _DURATION),
        "AUTHORIZE_CONNECT_TIMEOUT": _safe("authorize_connect_timeout", authorize_connect_timeout, _DURATION),
        "TRADING_SERVER": _safe("trading", trading),
        "TRADING_TIMEOUT": _safe("trading_timeout", trading_timeout, _DURATION),
        "LISTEN": " ".join(_safe("listen", piece) for piece in listen.split()),
        "TLS": tls.rstrip("\n"),
        "MAX_BODY": _safe("max_body", max_body, _SIZE),
        "KEY_HEADER": _safe("key_header", key_header, re.compile(r"^[A-Za-z0-9-]{1,64}$")),
        "TOKEN_INCLUDE": _safe("token_file", str(Path(token_file).resolve())),
    }
    text = TEMPLATE.read_text() if template is None else template
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    left = sorted(set(re.findall(r"@@[A-Z_]+@@", text)))
    if left:
        raise ValueError(f"template placeholders without a value: {', '.join(left)}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-token-file", metavar="PATH", help="write the token include file and exit; "
                        "the token is read from stdin (never from the command line)")
    parser.add_argument("--prefix", help="directory for pid, logs and temporary files")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="nginx `listen` value (default %(default)s)")
    parser.add_argument("--authorize-url", help="base URL of the onboarding service")
    parser.add_argument("--trading", help="host:port of the trading upstream")
    parser.add_argument("--token-file", help="include file with the service token (see --write-token-file)")
    parser.add_argument("--js-dir", default=str(HERE), help="directory holding authorize.js")
    parser.add_argument("--key-header", default="X-MEXC-APIKEY")
    parser.add_argument("--max-body", default="64k")
    parser.add_argument("--authorize-ca", default=SYSTEM_CA_BUNDLE,
                        help="CA bundle that verifies an https authorize URL (default %(default)s)")
    parser.add_argument("--authorize-timeout", default="2s")
    parser.add_argument("--trading-timeout", default="10s")
    parser.add_argument("--worker-processes", default="auto")
    parser.add_argument("--real-ip-from", action="append", default=[], metavar="CIDR",
                        help="address of a trusted proxy in front (repeatable)")
    parser.add_argument("--real-ip-header", default="X-Forwarded-For")
    parser.add_argument("--tls-certificate")
    parser.add_argument("--tls-certificate-key")
    parser.add_argument("--foreground", action="store_true", help="render `daemon off;` (for a supervisor)")
    args = parser.parse_args(argv)
    if args.write_token_file:
        token = sys.stdin.readline().strip()
        write_token_file(args.write_token_file, token)
        return 0
    missing = [flag for flag, value in (("--prefix", args.prefix), ("--authorize-url", args.authorize_url),
                                        ("--trading", args.trading), ("--token-file", args.token_file)) if not value]
    if missing:
        parser.error("missing " + ", ".join(missing))
    sys.stdout.write(render(
        prefix=args.prefix, listen=args.listen, authorize_url=args.authorize_url, trading=args.trading,
        token_file=args.token_file, js_dir=args.js_dir, key_header=args.key_header, max_body=args.max_body,
        authorize_timeout=args.authorize_timeout, authorize_ca=args.authorize_ca, trading_timeout=args.trading_timeout,
        worker_processes=args.worker_processes, daemon=not args.foreground, real_ip_from=args.real_ip_from,
        real_ip_header=args.real_ip_header, tls_certificate=args.tls_certificate,
        tls_certificate_key=args.tls_certificate_key,
    ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
