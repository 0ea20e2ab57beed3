"""Helpers of the real-browser tests: a live uvicorn server in a thread and Debian's chromium
driven by Python Playwright (no browser download)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("PATCHATLAS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_chromium() -> Path:
    """The chromium executable; fails under CI=true when missing, skips otherwise."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.exists():
        msg = f"chromium not found at {CHROMIUM}; run .ci/chromium.sh"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a background thread; yields the base URL."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def browser_page(exe: Path) -> Iterator[Any]:
    """A fresh page in headless chromium; page errors are collected in ``page.errors``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(exe), args=CHROMIUM_ARGS, headless=True)
        try:
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.errors = errors  # type: ignore[attr-defined]
            yield page
        finally:
            browser.close()


def screenshot(page: Any, folder: Path, name: str) -> Path:
    """Save a full-page PNG in ``folder`` (and in $PATCHATLAS_SCREENSHOTS when set)."""
    out = folder / f"{name}.png"
    page.screenshot(path=str(out), full_page=True)
    extra = os.environ.get("PATCHATLAS_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(extra) / out.name)
    return out


def wait_ready(page: Any, timeout_ms: int = 30_000) -> None:
    """Wait until the page script marked the document ready."""
    page.wait_for_selector("body[data-ready]", timeout=timeout_ms)
    assert page.get_attribute("body", "data-ready") == "1", page.errors


def drag_on_axis(page: Any, feature: str, frac_top: float, frac_bottom: float) -> None:
    """Drag on the parallel-coordinates axis of ``feature`` between two fractions of its height
    (0 = top) with real mouse events."""
    axes = page.evaluate("window.pcAxes")
    ax = next(a for a in axes if a["name"] == feature)
    box = page.locator("#pc").bounding_box()
    width = page.evaluate("document.getElementById('pc').width")
    height = page.evaluate("document.getElementById('pc').height")
    sx, sy = box["width"] / width, box["height"] / height
    x = box["x"] + ax["x"] * sx
    y0 = box["y"] + (ax["top"] + frac_top * (ax["bottom"] - ax["top"])) * sy
    y1 = box["y"] + (ax["top"] + frac_bottom * (ax["bottom"] - ax["top"])) * sy
    page.mouse.move(x, y0)
    page.mouse.down()
    page.mouse.move(x, (y0 + y1) / 2, steps=5)
    page.mouse.move(x, y1, steps=5)
    page.mouse.up()


def count(page: Any) -> int:
    """The number of selected cells shown on the search page."""
    return int(page.inner_text("#count"))


def set_axes(page: Any, names: list[str]) -> None:
    """Make ``names`` the parallel-coordinates axes through the page's controls: remove every
    axis chip, then type each name into the searchable axis box and press Enter."""
    while page.locator("#axes button[data-remove]").count():
        page.locator("#axes button[data-remove]").first.click()
    for name in names:
        page.fill("#axis-add", name)
        page.press("#axis-add", "Enter")
        page.wait_for_function("n => window.pcAxes.some(a => a.name === n)", arg=name)


def set_sort(page: Any, name: str, *, descending: bool | None = None) -> None:
    """Sort the cards by ``name`` by typing it into the searchable sort box."""
    page.fill("#sort", name)
    page.press("#sort", "Enter")
    if descending is not None:
        page.set_checked("#desc", descending)
