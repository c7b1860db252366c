"""A real headless Chromium (Debian's `chromium`), with no way out: every request it would make goes to a local
proxy that answers none and counts what was asked."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--hide-scrollbars",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater,SafeBrowsing",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--no-pings",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--safebrowsing-disable-auto-update",
)
# What Chromium asks for by itself whatever the page (its updater and sign-in service), in spite of the flags
# above: told apart from the page's requests by host. A page asking any other host is caught.
BROWSER_HOSTS = re.compile(
    rb"^(CONNECT |[A-Z]+ https?://)([a-z0-9-]+\.)*(google\.com|googleapis\.com|gstatic\.com)[:/ ]"
)


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class RefusingProxy:
    """A TCP listener on 127.0.0.1 that records every connection and closes it at once."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []  # every request's first bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.5)
                try:
                    self.requests.append(conn.recv(4096) or b"(connected, sent nothing)")
                except OSError:
                    self.requests.append(b"(connected)")

    @property
    def page_requests(self) -> list[bytes]:
        """Requests other than Chromium's own background ones (the first line of each)."""
        return [r.split(b"\r\n")[0] for r in self.requests if not BROWSER_HOSTS.match(r)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def run_chromium(
    url: str, profile: Path, proxy: RefusingProxy, *args: str, timeout: float = 90.0
) -> subprocess.CompletedProcess[str]:
    """Chromium on `url` with a fresh profile; every request (loopback too) goes to `proxy`."""
    binary = chromium()
    assert binary is not None
    argv = [
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--proxy-server=http://127.0.0.1:{proxy.port}",
        "--proxy-bypass-list=<-loopback>",  # no exceptions, not even localhost
        *args,
        url,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
