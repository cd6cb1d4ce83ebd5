"""Headless Chromium driven over the DevTools protocol through a pipe, for tests of pages opened from file://.

Chromium started with `--remote-debugging-pipe` reads protocol messages from file descriptor 3 and writes
its answers and events to descriptor 4, each a JSON object ended by a NUL byte: no WebSocket, no port.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium or Chrome program, or None when none is installed."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


class BrowserError(Exception):
    """The browser answered a command with an error, or did not answer in time."""


class Browser:
    """One headless Chromium process with a fresh profile; open pages with `open`."""

    def __init__(self, profile: Path, width: int = 1200, height: int = 900):
        program = find_chromium()
        if program is None:
            raise BrowserError("no Chromium is installed")
        to_browser, self._to_us = os.pipe(), os.pipe()

        def use_descriptors_3_and_4():
            # dup first: a pipe may already sit on 3 or 4, and dup2 onto itself would keep close-on-exec.
            reading, writing = os.dup(to_browser[0]), os.dup(self._to_us[1])
            os.dup2(reading, 3)
            os.dup2(writing, 4)

        self.process = subprocess.Popen(
            [program, "--headless", "--no-sandbox", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "--no-first-run", "--no-default-browser-check", "--disable-gpu",
             "--mute-audio", "--disable-background-networking", "--disable-component-update", "about:blank"],
            preexec_fn=use_descriptors_3_and_4, close_fds=False,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_browser[0])
        os.close(self._to_us[1])
        self._writer = to_browser[1]
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _send(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._writer, data):]

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._to_us[0]], [], [], left)[0]:
                raise BrowserError("the browser did not answer in time")
            chunk = os.read(self._to_us[0], 1 << 16)
            if not chunk:
                raise BrowserError("the browser closed its end of the pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept in `events`."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error'].get('message')}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)

    def wait_for(self, method: str, session: str, timeout: float = 60) -> dict:
        """The first event called `method` of this session, waiting for it if it has not come yet."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event["method"] == method and event.get("sessionId") == session:
                    return event
            self.events.append(self._receive(deadline))

    def open(self, url: str, width: int = 1200, height: int = 900) -> Page:
        """A new tab showing `url`, loaded, with its console, exceptions and network requests recorded."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                  session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        return Page(self, session)

    def close(self) -> None:
        """Close the browser and wait for it to exit."""
        try:
            self.call("Browser.close", timeout=10)
        except (BrowserError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._writer)
        os.close(self._to_us[0])


class Page:
    """One tab of the browser."""

    def __init__(self, browser: Browser, session: str):
        self.browser = browser
        self.session = session

    def evaluate(self, expression: str, timeout: float = 60):
        """The value of a JavaScript expression in the page, awaited when it is a promise."""
        result = self.browser.call("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True, "timeout": timeout * 1000,
        }, session=self.session, timeout=timeout + 5)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"the page raised: {details.get('exception', {}).get('description') or details.get('text')}")
        return result["result"].get("value")

    def resource(self, url: str) -> str:
        """The text of a resource the page loaded, as the browser received it."""
        frame = self.browser.call("Page.getFrameTree", session=self.session)["frameTree"]["frame"]["id"]
        content = self.browser.call("Page.getResourceContent", {"frameId": frame, "url": url}, session=self.session)
        return base64.b64decode(content["content"]).decode("utf-8") if content.get("base64Encoded") else content["content"]

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        """Save a PNG of the page (all of it, or the viewport)."""
        params: dict = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.browser.call("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.browser.call("Page.captureScreenshot", params, session=self.session)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def _events(self, method: str) -> list[dict]:
        return [e["params"] for e in self.browser.events if e["method"] == method and e.get("sessionId") == self.session]

    def requested_urls(self) -> list[str]:
        """Every URL the page requested."""
        return [params["request"]["url"] for params in self._events("Network.requestWillBeSent")]

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads, one line each."""
        found = [" ".join(str(arg.get("value", arg.get("description", ""))) for arg in p["args"])
                 for p in self._events("Runtime.consoleAPICalled") if p["type"] in ("error", "assert")]
        found += [p["exceptionDetails"].get("exception", {}).get("description") or p["exceptionDetails"]["text"]
                  for p in self._events("Runtime.exceptionThrown")]
        found += [f"{p['entry']['text']} ({p['entry'].get('url', '')})" for p in self._events("Log.entryAdded")
                  if p["entry"]["level"] == "error"]
        found += [f"{p['errorText']}: request {p['requestId']}" for p in self._events("Network.loadingFailed")
                  if not p.get("canceled")]
        return found
