"""Debian's nginx in front of test workers, running deploy/'s site file.

The site is the one a team installs, with the test's ports put in its `listen` line and in the
`server` lines of its upstreams; around it, a main configuration of the test's own (not a
daemon, every file under a temporary prefix, the error log there too).
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from .server import ROOT, free_port

SITE = ROOT / "deploy" / "studio.nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MIME_TYPES = Path("/etc/nginx/mime.types")

MAIN = """\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 1024; }}
http {{
    {mime}
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/studio.conf;
}}
"""


def site_for(port, upstreams):
    """deploy/'s site, listening on 127.0.0.1:`port`, with `upstreams` ("host:port") as its workers."""
    text = SITE.read_text()
    text, listens = re.subn(r"^(\s*)listen 80;", rf"\1listen 127.0.0.1:{port};", text, flags=re.M)
    servers = "".join(f"    server {address};\n" for address in upstreams)
    text, blocks = re.subn(r"(?:^    server 127\.0\.0\.1:\d+;\n)+", servers, text, flags=re.M)
    assert listens == 1 and blocks == 2, "deploy/studio.nginx.conf no longer has the lines this test replaces"
    return text


class Nginx:
    def __init__(self, prefix, upstreams):
        self.prefix = Path(prefix)
        self.upstreams = list(upstreams)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self, timeout=20):
        self.prefix.mkdir(parents=True, exist_ok=True)
        (self.prefix / "studio.conf").write_text(site_for(self.port, self.upstreams))
        main = MAIN.format(
            prefix=self.prefix,
            # As root, nginx's workers would become "nobody", who cannot write under a test's
            # private temporary directory.
            user="user root;" if os.geteuid() == 0 else "",
            mime=f"include {MIME_TYPES};" if MIME_TYPES.exists() else "",
        )
        (self.prefix / "nginx.conf").write_text(main)
        command = [
            NGINX,
            "-p",
            str(self.prefix),
            "-c",
            str(self.prefix / "nginx.conf"),
            "-e",
            str(self.prefix / "error.log"),
        ]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not (self.prefix / "nginx.pid").exists() or not self._listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{self.log()}")
            time.sleep(0.05)
        return self

    def _listening(self):
        import socket

        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: a fast shutdown of the master and its worker
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self):
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""
