"""Real Chromium for the page tests (Debian's chromium through Playwright's executable_path;
Playwright cannot download browsers here): the session's one browser is the `chromium` fixture
(tests/conftest.py), in which a test opens a context of its own; counting a page's chart points,
running axe-core, and where screenshots go."""

import os
from pathlib import Path

from django.conf import settings

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("OPS_SCREENSHOT_DIR", Path(settings.BASE_DIR) / "var" / "screenshots"))
CHART_POINTS = """() => Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => {
    const chart = window.Chart.getChart(c);
    const points = chart ? chart.data.datasets.reduce((n, d) => n + d.data.filter(v => v !== null).length, 0) : 0;
    return [c.dataset.chart, points];
})"""
# How wide the page's content really is: the right edge of the widest element that no scrolling or
# clipping box holds (a chart's or a table's own scroller is the page's business, not the window's).
# document.documentElement.scrollWidth cannot tell when `overflow-x: hidden` cuts the page off.
CONTENT_WIDTH = """() => {
    let widest = document.documentElement.scrollWidth;
    for (const element of document.body.querySelectorAll('*')) {
        let box = element.parentElement, held = false;
        while (box && box !== document.body) {
            if (getComputedStyle(box).overflowX !== 'visible') { held = true; break; }
            box = box.parentElement;
        }
        const rect = element.getBoundingClientRect();
        if (!held && rect.width && rect.right + window.scrollX > widest) widest = rect.right + window.scrollX;
    }
    return Math.ceil(widest);
}"""
AXE_SERIOUS = (
    "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})).violations"
    ".filter(v => ['serious', 'critical'].includes(v.impact))"
    ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))"
)


def axe_serious(page) -> list[str]:
    """axe-core's serious and critical WCAG 2 A/AA violations on the page (none if axe is missing)."""
    if not AXE.exists():
        return []
    page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_SERIOUS)


def page_problems(page, path: str, width: int, *, axe: bool = True) -> list[str]:
    """What is wrong with the page as shown: wider than the window, a chart without data points,
    serious axe-core violations (unless axe=False)."""
    problems = []
    scroll = page.evaluate(CONTENT_WIDTH)
    if scroll > width:
        problems.append(f"{path}: {scroll} px wide at {width}")
    for chart, points in page.evaluate(CHART_POINTS):
        if not points:
            problems.append(f"{path}: chart {chart} has no data points")
    return problems + [f"{path} ({width}): axe {v}" for v in (axe_serious(page) if axe else [])]


def page_watch(page, *, ignore: str = "") -> tuple[list[str], list[str]]:
    """(console errors, failed or >= 400 requests) of the page from now on, as lists the test
    reads and clears; requests whose URL contains `ignore` (a live stream cut on leaving) do not count."""
    errors, failed = [], []

    def request_failed(request) -> None:
        if ignore and ignore in request.url:
            return
        # Chromium fetches the favicon on its own after the page has loaded and cancels that fetch
        # when the test navigates on: an abort by the browser, not a failure of the server (a
        # missing favicon still shows as a 404 response below).
        if request.failure == "net::ERR_ABORTED" and request.url.endswith("/favicon.svg"):
            return
        failed.append(f"{request.url} ({request.failure})")

    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", request_failed)
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return errors, failed
