"""Headless Chromium through Selenium and chromedriver (Debian: `chromium`, `chromium-driver`):
load a page from file://, collect what it said while loading.

Both binaries come from the system, never downloaded: Selenium is given chromedriver's path, so
its own driver manager does not run. `driver.quit()` stops chromedriver and the browser it
started.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

__all__ = ["Browser", "PageLoad", "binaries_or_skip", "chromium"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-extensions",
)
LOAD_DEADLINE = 30.0


def binaries_or_skip() -> tuple[str, str]:
    """(chromium, chromedriver); in CI (CI set) a missing one fails the test instead of skipping."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        message = (
            "chromium and chromium-driver are not installed (apt-get install -y chromium-driver)"
        )
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message)
        pytest.skip(message)
    return browser, driver


@dataclass
class PageLoad:
    """What happened while a page loaded."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    #: the value of the expression evaluated once the page had loaded
    value: Any = None

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.exceptions + self.failed_requests


class Browser:
    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def _logs(self, kind: str) -> list[dict[str, Any]]:
        return list(self.driver.get_log(kind))

    def load(self, path: Path, expression: str) -> PageLoad:
        """Open `path` from file://, wait for its load event, evaluate `expression`."""
        url = path.resolve().as_uri()
        # the logs hold everything since they were last read: start from nothing
        self._logs("browser")
        self._logs("performance")
        self.driver.get(url)
        page = PageLoad(url, value=self.driver.execute_script(f"return {expression};"))
        for entry in self._logs("browser"):
            if entry.get("level") != "SEVERE":
                continue
            source, message = entry.get("source"), str(entry.get("message", ""))
            if source == "javascript":
                page.exceptions.append(message)
            elif source == "network":
                page.failed_requests.append(message)
            else:
                page.console_errors.append(message)
        # Only what our page asked for: Chromium's own pages (its start page, loading late on a
        # busy machine) log their chrome://resources requests into the same log.
        ours: set[str] = set()
        for entry in self._logs("performance"):
            event = json.loads(entry["message"])["message"]
            params = event.get("params", {})
            if event.get("method") == "Network.requestWillBeSent":
                if params.get("documentURL") != url:
                    continue
                ours.add(params["requestId"])
                page.requests.append(params["request"]["url"])
            elif event.get("method") == "Network.loadingFailed" and params["requestId"] in ours:
                text = params.get("errorText", "request failed")
                if text not in " ".join(page.failed_requests):
                    page.failed_requests.append(text)
        return page


@contextmanager
def chromium(browser: str, driver: str, profile: Path) -> Iterator[Browser]:
    """A headless Chromium with a fresh profile, driven by the system's chromedriver."""
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        chrome.set_page_load_timeout(LOAD_DEADLINE)
        yield Browser(chrome)
    finally:
        chrome.quit()
