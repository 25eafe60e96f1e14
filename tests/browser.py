"""Headless Chromium driven through the DevTools protocol, for tests that open pages from disk
with the network off.

The protocol runs over a pair of pipes (``--remote-debugging-pipe``: Chromium reads commands
from fd 3 and writes answers to fd 4, each a JSON message ended by a NUL byte), so there is no
port to pick and no WebSocket client to install. Every page is opened with the network
emulated offline and every host name failing to resolve, and every URL the page asks for is
recorded, so a test can say that it asked for nothing but files and ``data:`` URIs.

>>> # with Browser(find_chromium(), tmp_path) as browser:
>>> #     page = browser.open("report.html")
>>> #     page.evaluate("document.title"), page.requests
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["FLAGS", "Browser", "BrowserError", "Page", "find_chromium"]

_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--autoplay-policy=no-user-gesture-required",
)


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str | None:
    return next((p for p in map(shutil.which, _NAMES) if p), None)


class Browser:
    """One Chromium process; :meth:`open` gives a :class:`Page` per file."""

    def __init__(self, binary: str, profile_dir: str | os.PathLike[str], *,
                 timeout_s: float = 60.0) -> None:
        self._timeout = timeout_s
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        # Above fd 10, so that the child's dup2 onto 3 and 4 never meets one of them.
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child_r, from_child_w)]
        for fd in (to_child_r, from_child_w):
            os.close(fd)

        def pipes_on_3_and_4() -> None:  # runs in the child, before exec; dup2 clears CLOEXEC
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        profile = Path(profile_dir)
        profile.mkdir(parents=True, exist_ok=True)
        self._log = open(profile / "chromium.log", "wb")
        self._proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            preexec_fn=pipes_on_3_and_4, close_fds=False,
            env={**os.environ, "HOME": str(profile)},
        )
        for fd in ends:
            os.close(fd)
        self._out = os.fdopen(to_child_w, "wb", buffering=0)
        self._in = os.fdopen(from_child_r, "rb", buffering=0)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for stream in (self._out, self._in):
            try:
                stream.close()
            except OSError:
                pass
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._in], [], [], remaining)[0]:
                raise BrowserError(f"Chromium did not answer in {self._timeout:g} s")
            chunk = self._in.read(1 << 16)
            if not chunk:
                raise BrowserError(f"Chromium exited (code {self._proc.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict[str, Any] | None = None, *,
             session: str | None = None) -> dict[str, Any]:
        """Send a command; its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self._timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)

    def wait_for(self, method: str, *, session: str) -> dict[str, Any]:
        """The next event ``method`` of ``session`` (one that already came counts)."""
        deadline = time.monotonic() + self._timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self._events.pop(i)
            self._events.append(self._read_message(deadline))

    def events(self, method: str, *, session: str) -> list[dict[str, Any]]:
        return [e for e in self._events if e.get("method") == method
                and e.get("sessionId") == session]

    def open(self, path: str | os.PathLike[str], *, width: int = 1280,
             height: int = 900) -> Page:
        """A new tab showing the file ``path``, offline, once its load event has fired."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.send(f"{domain}.enable", session=session)
        self.send("Network.emulateNetworkConditions", {"offline": True, "latency": 0,
                  "downloadThroughput": -1, "uploadThroughput": -1}, session=session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                  "deviceScaleFactor": 1, "mobile": False}, session=session)
        url = Path(path).resolve().as_uri()
        result = self.send("Page.navigate", {"url": url}, session=session)
        if result.get("errorText"):
            raise BrowserError(f"{url}: {result['errorText']}")
        self.wait_for("Page.loadEventFired", session=session)
        return Page(self, session, url)


class Page:
    """One open page."""

    def __init__(self, browser: Browser, session: str, url: str) -> None:
        self._browser, self._session, self.url = browser, session, url

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (a promise is awaited)."""
        result = self._browser.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True,
        }, session=self._session)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    @property
    def requests(self) -> list[str]:
        """Every URL the page asked for (itself and what it loaded)."""
        return [e["params"]["request"]["url"]
                for e in self._browser.events("Network.requestWillBeSent",
                                              session=self._session)]

    @property
    def failed_requests(self) -> list[str]:
        ids = {e["params"]["requestId"]: e["params"]["request"]["url"]
               for e in self._browser.events("Network.requestWillBeSent", session=self._session)}
        return [ids.get(e["params"]["requestId"], "?")
                for e in self._browser.events("Network.loadingFailed", session=self._session)]

    def screenshot(self, *, full_page: bool = True,
                   clip: dict[str, float] | None = None) -> bytes:
        """A PNG of the page: all of it, the viewport, or ``clip`` (x, y, width, height in page
        coordinates)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if clip is not None:
            params["clip"] = {**clip, "scale": 1}
        elif full_page:
            size = self.evaluate("[document.documentElement.scrollWidth,"
                                 " document.documentElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": min(size[1], 16000),
                              "scale": 1}
        data = self._browser.send("Page.captureScreenshot", params, session=self._session)
        return base64.b64decode(data["data"])
