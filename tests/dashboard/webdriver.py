"""Debian's headless Chromium, driven through its chromedriver over W3C WebDriver (HTTP + JSON).

A small async client: start, open a page, find elements, type, click, read, take screenshots.
It never downloads a browser: it runs /usr/bin/chromium and /usr/bin/chromedriver (Debian's
``chromium`` and ``chromium-driver`` packages, which ``make test`` installs when missing).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
import socket
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in CI containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=en-US",
)


class WebDriverError(AssertionError):
    pass


def missing() -> str | None:
    """Why the browser cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            return f"{path} is missing: install Debian's chromium and chromium-driver (make test)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Chromium:
    """``async with Chromium(profile, downloads) as browser: await browser.get(url)``."""

    def __init__(self, profile_dir: Path, download_dir: Path, *, width: int = 1280) -> None:
        self.profile_dir = profile_dir
        self.download_dir = download_dir
        self.width = width
        self._driver: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._base = ""
        self._session = ""

    async def __aenter__(self) -> Chromium:
        port = _free_port()
        self._driver = await asyncio.create_subprocess_exec(
            CHROMEDRIVER,
            f"--port={port}",
            f"--log-path={self.profile_dir / 'driver.log'}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self._base = f"http://127.0.0.1:{port}"
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        try:
            await self._open()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _open(self) -> None:
        await self._wait_for_driver()
        options = {
            "binary": CHROMIUM,
            "args": [
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self.profile_dir / 'profile'}",
                f"--window-size={self.width},900",
            ],
            "prefs": {
                "download.default_directory": str(self.download_dir),
                "download.prompt_for_download": False,
                "safebrowsing.enabled": False,
            },
        }
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        answer = await self._call(
            "POST", "/session", {"capabilities": {"alwaysMatch": capabilities}}
        )
        self._session = answer["sessionId"]
        await self.cdp(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(self.download_dir)},
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            if self._session:
                await self._call("DELETE", f"/session/{self._session}")
        if self._http is not None:
            await self._http.close()
        if self._driver is not None and self._driver.returncode is None:
            self._driver.terminate()
            try:
                async with asyncio.timeout(10):
                    await self._driver.wait()
            except TimeoutError:
                self._driver.kill()
                await self._driver.wait()

    async def _wait_for_driver(self) -> None:
        assert self._http is not None
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientError):
                async with self._http.get(f"{self._base}/status") as response:
                    if (await response.json())["value"].get("ready"):
                        return
            await asyncio.sleep(0.05)  # polling a process that offers no event to await
        raise WebDriverError("chromedriver did not start")

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self._http is not None
        url = self._base + path
        async with self._http.request(method, url, json=body if body is not None else None) as r:
            answer = await r.json()
        value = answer.get("value") if isinstance(answer, dict) else None
        if r.status >= 400:
            raise WebDriverError(f"{method} {path}: {value}")
        return value

    def _path(self, tail: str) -> str:
        return f"/session/{self._session}{tail}"

    # -- what tests use --

    async def cdp(self, command: str, params: dict[str, Any]) -> Any:
        """A Chrome DevTools Protocol command (through chromedriver)."""
        return await self._call(
            "POST", self._path("/goog/cdp/execute"), {"cmd": command, "params": params}
        )

    async def get(self, url: str) -> None:
        await self._call("POST", self._path("/url"), {"url": url})

    async def url(self) -> str:
        return str(await self._call("GET", self._path("/url")))

    async def title(self) -> str:
        return str(await self._call("GET", self._path("/title")))

    async def find(self, css: str) -> str:
        found = await self._call(
            "POST", self._path("/element"), {"using": "css selector", "value": css}
        )
        return str(found[ELEMENT])

    async def find_all(self, css: str) -> list[str]:
        found = await self._call(
            "POST", self._path("/elements"), {"using": "css selector", "value": css}
        )
        return [str(element[ELEMENT]) for element in found]

    async def text(self, element: str) -> str:
        return str(await self._call("GET", self._path(f"/element/{element}/text")))

    async def attribute(self, element: str, name: str) -> str | None:
        value = await self._call("GET", self._path(f"/element/{element}/attribute/{name}"))
        return None if value is None else str(value)

    async def type(self, element: str, text: str) -> None:
        await self._call("POST", self._path(f"/element/{element}/value"), {"text": text})

    async def click(self, element: str) -> None:
        await self._call("POST", self._path(f"/element/{element}/click"), {})

    async def click_and_wait(self, element: str, timeout: float = 15.0) -> None:
        """Click something that loads another page, and wait until that page has loaded.

        WebDriver's click returns before a form submission has navigated, so the old page is
        marked first and the new one is recognised by not carrying the mark.
        """
        await self.execute("window.__innobotOldPage = true;")
        await self.click(element)
        async with asyncio.timeout(timeout):
            while True:
                try:
                    if await self.execute(
                        "return !window.__innobotOldPage && document.readyState === 'complete';"
                    ):
                        return
                except WebDriverError:
                    pass  # the page is between documents
                await asyncio.sleep(0.05)  # WebDriver offers no navigation event to await

    async def select(self, css: str, value: str) -> None:
        """Choose the option with ``value`` in the select element ``css``."""
        await self.click(await self.find(f'{css} option[value="{value}"]'))

    async def execute(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body) in the page through WebDriver."""
        return await self._call(
            "POST", self._path("/execute/sync"), {"script": script, "args": list(args)}
        )

    async def figures(self) -> dict[str, str]:
        """Every ``<data data-key=... value=...>`` of the page: the figures it shows."""
        pairs = await self.execute(
            "return Array.from(document.querySelectorAll('data[data-key]'))"
            ".map(e => [e.getAttribute('data-key'), e.getAttribute('value')]);"
        )
        return {str(key): str(value) for key, value in pairs}

    async def screenshot(self) -> bytes:
        """The whole page, however long (up to 6000 pixels), as a PNG."""
        metrics = await self.cdp("Page.getLayoutMetrics", {})
        size = metrics["cssContentSize"]
        shot = await self.cdp(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": self.width,
                    "height": min(int(size["height"]) + 1, 6000),
                    "scale": 1,
                },
            },
        )
        return base64.b64decode(shot["data"])
