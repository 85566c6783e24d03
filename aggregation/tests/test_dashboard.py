"""The dashboard in a real browser (Debian's Chromium under Playwright) against a live stack:
the front, web, stream server, worker and beat, over the simulated venues: prices moving, the
chart, an excluded venue, a stale price, a phone's width. Screenshots go to results/browser/."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from aggregation.tests import stack
from deploy.services import ROOT
from mock_exchange_app.control import clear_faults, set_fault

CHROMIUM = shutil.which("chromium")
RESULTS = ROOT / "results" / "browser"
PHONE = {"width": 390, "height": 844}
WAIT_MS = 30_000

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium: `make test` installs Debian's chromium where it can"
    ),
    pytest.mark.slow,
]
# Bitcoin's markets on the simulated venues, in USDT, USD and USDC: a fault on each takes
# every one of its quotes away, and leaves the venues (and their circuits) up.
BTC_MARKETS = ("BTCUSDT", "BTCUSD", "BTCUSDC")
ADD_ASSETS = (
    "from aggregation.models import Asset; Asset.objects.bulk_create("
    "Asset(symbol=f'TEST{n:02}USDT', base=f'TEST{n:02}', quote='USDT') for n in range(50))"
)


@pytest.fixture
def site(stack_environment, tmp_path: Path) -> Iterator[str]:
    """Serve a whole stack refreshing every second; yield the dashboard's URL."""
    env = stack_environment(redis_db=8, table="prices-dashboard", interval=1.0)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        env=env,
        cwd=ROOT,
        check=True,
    )
    # Fifty more assets push XRPUSDT off the first page: the search must find it.
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", ADD_ASSETS], env=env, cwd=ROOT, check=True
    )
    # The catalogues known, as in a stack that ran before: at its start the beat's sync competes
    # with every asset's refresh each second for Kraken's 15 calls per 15 s, and may wait.
    subprocess.run([sys.executable, "manage.py", "sync_markets"], env=env, cwd=ROOT, check=True)
    with (
        stack.running([(command, env) for command in stack.celery("dashboard", tmp_path)]),
        stack.front(env, tmp_path / "front") as url,
    ):
        yield f"{url}/"


@pytest.fixture
def one_stream_site(stack_environment, tmp_path: Path) -> Iterator[str]:
    """Serve the dashboard behind a front that takes one stream per client, with no worker;
    yield its URL."""
    env = stack_environment(redis_db=15, table="prices-dashboard-streams", interval=60)
    env["FRONT_STREAMS_PER_CLIENT"] = "1"
    collect = [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"]
    subprocess.run(collect, env=env, cwd=ROOT, check=True)
    with stack.front(env, tmp_path / "front") as url:
        yield f"{url}/"


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # Root has no sandbox here; the rest keeps Chromium off the closed network.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def test_the_dashboard_shows_prices_moving_the_chart_an_excluded_venue_and_staleness(
    site, browser, venues
):
    RESULTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    # Under its Content-Security-Policy; a violation would be one of the console's errors. The
    # waits below are functions: Playwright runs any other string through eval, which it forbids.
    policy = page.goto(site).headers["content-security-policy"]
    assert "default-src 'self'" in policy
    row = page.locator("#asset-BTCUSDT")

    def sources_are(text: str) -> None:
        try:
            page.wait_for_function(
                f"() => document.querySelector('#asset-BTCUSDT .sources').textContent === '{text}'",
                timeout=WAIT_MS,
            )
        except PlaywrightTimeout:
            shown = page.locator("#asset-BTCUSDT .sources").text_content()
            venues_shown = page.locator("#venues").inner_text()
            raise AssertionError(f"{shown!r}, not {text!r}:\n{venues_shown}") from None

    # Priced, then priced again without a reload: the stream delivered a newer aggregation.
    page.wait_for_function(
        "() => document.querySelector('#asset-BTCUSDT').dataset.aggregatedAt", timeout=WAIT_MS
    )
    first = row.get_attribute("data-aggregated-at")
    assert row.locator(".price").text_content().replace(",", "").replace(".", "").isdigit()
    page.wait_for_function(
        f"() => document.querySelector('#asset-BTCUSDT').dataset.aggregatedAt > '{first}'",
        timeout=WAIT_MS,
    )
    assert page.locator("#status").text_content() == "live"
    page.wait_for_function(  # the 24 h change, against the oldest hourly candle there is
        "() => document.querySelector('#asset-BTCUSDT .change').textContent.endsWith('%')",
        timeout=WAIT_MS,
    )
    # BTC's USDT, USD and USDC markets on the six venues (two each on Binance, Coinbase,
    # Kraken, OKX and Bybit, three on Bitstamp), of eighteen with the EUR books of all but
    # Bybit, once the USDT and USDC rates that convert them are priced (the stack has just
    # started).
    sources_are("13 of 18")

    # The chosen asset's chart draws candles, and its venues are listed.
    row.click()
    page.locator("#chart .candle").first.wait_for(timeout=WAIT_MS)
    assert page.locator("#venues tbody tr.used").count() == 13
    listed = page.locator("#venues tbody tr.used").evaluate_all(
        "rows => rows.map(row => row.dataset.exchange)"
    )
    assert set(listed) == set(venues)  # all six venues, each with at least one market used
    page.screenshot(path=RESULTS / "dashboard.png", full_page=True)

    # A venue quoting far off the others shows as excluded, with why, as it happens.
    try:
        set_fault(venues["binance"], "BTCUSDT", "outlier", factor="1.5")
        binance_btcusdt = "[data-exchange='binance'][data-market='BTCUSDT']"
        page.locator(f"#venues tr.excluded{binance_btcusdt}").wait_for(timeout=WAIT_MS)
        # Other venues' BTCUSDT rows may carry a note too (a weight under 0.9): read Binance's.
        why = page.locator(f"#venues tr.why{binance_btcusdt}").text_content()
        assert "from the median" in why
        sources_are("12 of 18")
        page.screenshot(path=RESULTS / "dashboard-excluded-venue.png", full_page=True)
    finally:
        clear_faults(venues["binance"])

    # With every venue down no new price comes: the row turns stale once its tier allows.
    try:
        for url in venues.values():
            for market in BTC_MARKETS:
                set_fault(url, market, "down")
        page.wait_for_selector("#asset-BTCUSDT.stale", timeout=WAIT_MS)
        assert "stale" in page.locator("#detail-summary").text_content()
        page.screenshot(path=RESULTS / "dashboard-stale.png", full_page=True)
    finally:
        for url in venues.values():
            clear_faults(url)
    page.wait_for_selector("#asset-BTCUSDT:not(.stale)", timeout=WAIT_MS)

    # On a phone's width: one column, nothing wider than the screen.
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=RESULTS / "dashboard-phone.png", full_page=True)

    # Typing part of the name of an asset off the page finds it; the keyboard chooses it, and
    # its venues show each market, its conversion and its weight, live from its own stream.
    assert page.locator("#asset-XRPUSDT").count() == 0
    page.locator("#search").fill("rp")
    page.locator("#found li[data-asset='XRPUSDT']").wait_for(timeout=WAIT_MS)
    page.locator("#search").press("ArrowDown")
    page.locator("#search").press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#detail-title').textContent === 'XRPUSDT'"
        " && document.querySelector('#detail').dataset.aggregatedAt",
        timeout=WAIT_MS,
    )
    shown = page.locator("#detail").get_attribute("data-aggregated-at")
    page.wait_for_function(
        f"() => document.querySelector('#detail').dataset.aggregatedAt > '{shown}'",
        timeout=WAIT_MS,
    )
    # Coinbase's dollar book, converted at PriceHub's USDT rate (a round under load may leave a
    # venue out: the next one uses it).
    try:
        page.locator("#venues tr.used[data-market='XRP-USD']").wait_for(timeout=WAIT_MS)
    except PlaywrightTimeout:
        raise AssertionError(page.locator("#venues").inner_text()) from None
    used = page.locator("#venues tbody tr.used")
    conversion = page.locator("#venues tr.used[data-market='XRP-USD'] .conversion")
    assert re.fullmatch(r"USD \u00d7 [0-9.]+ \([0-9.]+ s\)", conversion.text_content())
    weights = [
        float(text.removesuffix(" %")) for text in used.locator(".weight").all_text_contents()
    ]
    assert sum(weights) == pytest.approx(100, abs=0.05 * len(weights))
    assert "share of the price" in page.locator("#weights-note").text_content()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=RESULTS / "dashboard-search.png", full_page=True)
    assert problems == []


def test_the_dashboard_asks_again_for_a_stream_the_front_refused(one_stream_site, browser):
    page = browser.new_page()

    def status_is(text: str) -> None:
        page.wait_for_function(
            f"() => document.querySelector('#status').textContent === '{text}'", timeout=WAIT_MS
        )

    # This client's one stream is taken: the front answers the page's with a 429.
    with requests.get(f"{one_stream_site}stream?assets=BTCUSDT", stream=True, timeout=10) as held:
        assert held.status_code == 200
        page.goto(one_stream_site)
        status_is("refused; retrying in 5 s")
        assert "down" in page.locator("#status").get_attribute("class")
    # Once it is given back, the page's next try (5 s after the refusal) goes live.
    status_is("live")
