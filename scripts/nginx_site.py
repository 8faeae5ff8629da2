"""Render deploy/nginx/registry.conf.in into an nginx site, with the upload limit taken from the app's settings."""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "registry.conf.in"


def max_body(config: dict | None = None) -> str:
    """The app's MAX_CONTENT_LENGTH in nginx's units (MiB, rounded up), so nginx refuses exactly what the app would."""
    if config is None:
        sys.path.insert(0, str(ROOT))
        from registry.config import load

        config = load()
    return f"{math.ceil(int(config['MAX_CONTENT_LENGTH']) / (1024 * 1024))}m"


def render(*, server_name: str, upstream: str, static_root: str | Path, tls_cert: str, tls_key: str,
           http_listen: str = "80", https_listen: str = "443", access_log: str = "/var/log/nginx/registry.log",
           config: dict | None = None) -> str:
    values = {
        "SERVER_NAME": server_name, "UPSTREAM": upstream, "STATIC_ROOT": str(Path(static_root)).rstrip("/"),
        "TLS_CERT": tls_cert, "TLS_KEY": tls_key, "HTTP_LISTEN": http_listen, "HTTPS_LISTEN": https_listen,
        "ACCESS_LOG": access_log, "MAX_BODY": max_body(config),
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    left = re.findall(r"@[A-Z_]+@", code)
    if left:
        raise SystemExit(f"nginx_site: placeholders left unfilled in the template: {', '.join(sorted(set(left)))}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server-name", required=True, help="the registry's host name, e.g. registry.example.gov.cn")
    parser.add_argument("--upstream", default="127.0.0.1:8000", help="gunicorn's address (REGISTRY_BIND)")
    parser.add_argument("--static-root", default=str(ROOT / "registry" / "static"),
                        help="the registry/static folder of the installed code")
    parser.add_argument("--tls-cert", default="/etc/ssl/registry/fullchain.pem")
    parser.add_argument("--tls-key", default="/etc/ssl/registry/privkey.pem")
    parser.add_argument("--http-listen", default="80")
    parser.add_argument("--https-listen", default="443")
    parser.add_argument("--access-log", default="/var/log/nginx/registry.log")
    args = parser.parse_args(argv)
    sys.stdout.write(render(server_name=args.server_name, upstream=args.upstream, static_root=args.static_root,
                            tls_cert=args.tls_cert, tls_key=args.tls_key, http_listen=args.http_listen,
                            https_listen=args.https_listen, access_log=args.access_log))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
