"""Start a real gunicorn (deploy/gunicorn.conf.py) and Debian's nginx (deploy/'s site) on loopback for tests."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ROOT, free_port, http_status, wait_for

NGINX = "/usr/sbin/nginx"
REQUIRE_TOOLS = os.environ.get("REGISTRY_REQUIRE_TOOLS") == "1"
sys.path.insert(0, str(ROOT / "scripts"))


def need_nginx() -> None:
    missing = [tool for tool in (NGINX, shutil.which("openssl") or "openssl") if not Path(tool).exists()]
    if missing:
        reason = f"needs {', '.join(missing)} (apt-get install nginx openssl)"
        if REQUIRE_TOOLS:
            pytest.fail(reason)
        pytest.skip(reason)


def make_certificate(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    return cert, key


class Nginx:
    """Debian's nginx with the site rendered from deploy/nginx/registry.conf.in, in the foreground, in tmp."""

    def __init__(self, tmp: Path, upstream: str):
        from nginx_site import render

        self.dir = tmp / "nginx"
        for sub in ("", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.http_port, self.https_port = free_port(), free_port()
        cert, key = make_certificate(self.dir)
        self.access_log = self.dir / "access.log"
        site = render(server_name="localhost", upstream=upstream, static_root=ROOT / "registry" / "static",
                      tls_cert=str(cert), tls_key=str(key), http_listen=f"127.0.0.1:{self.http_port}",
                      https_listen=f"127.0.0.1:{self.https_port}", access_log=str(self.access_log))
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "".join(f"{kind}_temp_path {self.dir / sub};\n" for kind, sub in (
            ("client_body", "body"), ("proxy", "proxy"), ("fastcgi", "fastcgi"), ("uwsgi", "uwsgi"), ("scgi", "scgi")))
        conf = self.dir / "nginx.conf"
        conf.write_text(f"{user}worker_processes 1;\npid {self.dir / 'nginx.pid'};\n"
                        f"error_log {self.dir / 'error.log'} warn;\nevents {{ worker_connections 128; }}\n"
                        f"http {{\ninclude /etc/nginx/mime.types;\ndefault_type application/octet-stream;\n{temp}"
                        f"{site}\n}}\n")
        self.log = self.dir / "error.log"
        check = subprocess.run([NGINX, "-t", "-p", str(self.dir), "-c", str(conf), "-g", "daemon off;"],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen([NGINX, "-p", str(self.dir), "-c", str(conf), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: http_status("127.0.0.1", self.http_port, "/") == 301, "nginx", proc=self.proc,
                     log=self.log)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Browser:
    """One visitor: HTTPS from its own loopback address, with its own cookies."""

    def __init__(self, port: int, source: str, host: str = "127.0.0.1", tls: bool = True,
                 host_header: str = "localhost"):
        self.port, self.source, self.host, self.tls, self.host_header = port, source, host, tls, host_header
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=30, context=context,
                                               source_address=(self.source, 0))
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30, source_address=(self.source, 0))
        headers = {"Host": self.host_header, **(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response, data

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def csrf_token(self, path: str) -> str:
        response, data = self.get(path)
        assert response.status == 200, data[:500]
        field = re.search(rb'<input[^>]*name="csrf_token"[^>]*>', data).group(0)
        return re.search(rb'value="([^"]+)"', field).group(1).decode()

    def post_form(self, path: str, fields: dict, referer: str, extra: dict | None = None):
        from urllib.parse import urlencode

        headers = {"Content-Type": "application/x-www-form-urlencoded", "Referer": referer, **(extra or {})}
        return self.request("POST", path, body=urlencode(fields).encode(), headers=headers)
