"""A real browser on the pages: Debian's chromium, driven by Selenium through Debian's
chromedriver (no download), opens the search page, a record page, the matrix and a diff, checks
what a person sees, and writes the screenshots that ``docs/serve.md`` shows. The record with
hostile strings runs no script: a sentinel the script would change stays as the test set it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nameplate.record import Record
from tests.conftest import ROOT, need

from . import server, site

pytestmark = pytest.mark.service

SHOTS = ROOT / "docs" / "img"
CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, site_records: list[Record], hosts_dir: Path
) -> Iterator[tuple[server.Served, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("browser")
    url = str(folder / "catalog.db")
    ids = site.fill(url, site_records)
    s = server.start(folder, "--catalog", url, "--hosts", str(hosts_dir))
    try:
        yield s, ids
    finally:
        s.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    need(
        CHROMIUM is not None and DRIVER is not None,
        "chromium/chromium-driver not installed (scripts/apt.d/serve.txt)",
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def shoot(driver: Any, name: str, height: int = 900) -> None:
    """A screenshot of the page's top ``height`` pixels, for the docs."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    full = min(height, int(driver.execute_script("return document.documentElement.scrollHeight")))
    driver.set_window_size(1280, max(full, 300))
    driver.save_screenshot(str(SHOTS / f"serve-{name}.png"))
    driver.set_window_size(1280, 900)


def wait_for_url(driver: Any, part: str) -> None:
    """Wait for the navigation a click or a key started (the page loaded)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: (
            part in d.current_url and d.execute_script("return document.readyState") == "complete"
        )
    )


def text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "body").text)


def test_search_page(browser: Any, served: tuple[server.Served, dict[str, str]]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    s, _ = served
    browser.get(s.base + "/")
    assert browser.title.startswith("Search")
    box = browser.find_element(By.ID, "q")
    box.send_keys("hdf5 +mpi ^openmpi", Keys.ENTER)
    wait_for_url(browser, "q=hdf5")
    body = text(browser)
    assert "2 records match hdf5 +mpi ^openmpi" in body
    rows = browser.find_elements(By.CSS_SELECTOR, "table.results tbody tr")
    assert len(rows) == 2
    assert "icelake" in rows[0].text and "openmpi@" in rows[0].text
    shoot(browser, "search", 560)


def test_record_page(browser: Any, served: tuple[server.Served, dict[str, str]]) -> None:
    from selenium.webdriver.common.by import By

    s, _ = served
    browser.get(s.base + "/?q=hdf5%401.14.6")
    browser.find_element(By.LINK_TEXT, "hdf5@1.14.6").click()
    wait_for_url(browser, "/records/")
    assert browser.title.startswith("hdf5@1.14.6")
    body = text(browser)
    for heading in (
        "Runs on",
        "HPC fields",
        "Downloads",
        "Dependency tree",
        "Components",
        "Where the facts came from",
    ):
        assert heading in body
    hpc = browser.find_element(By.CSS_SELECTOR, "#hpc + table").text
    assert "icelake" in hpc and "openmpi" in hpc
    tree = browser.find_element(By.CSS_SELECTOR, "ul.tree").text
    assert "zlib-ng@" in tree
    assert "[build,link]" in tree or "[link]" in tree
    cells = browser.find_elements(By.CSS_SELECTOR, "#runs-on + table details.cell summary")
    assert {c.text for c in cells} >= {"pass", "fail"}
    links = {a.text for a in browser.find_elements(By.CSS_SELECTOR, "ul.downloads a")}
    assert {"cyclonedx-json", "spdx-2.3", "spdx-3.0.1"} <= links
    shoot(browser, "record", 1100)


def test_matrix_page(browser: Any, served: tuple[server.Served, dict[str, str]]) -> None:
    from selenium.webdriver.common.by import By

    s, _ = served
    browser.get(s.base + "/matrix?q=hypre")
    heads = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "table.matrix thead th")]
    assert heads[1:] == sorted(site.hosts())
    failing = browser.find_element(By.CSS_SELECTOR, "details.v-fail summary")
    assert failing.get_attribute("title")  # the reason on hover
    failing.click()  # and on click
    reason = browser.find_element(By.CSS_SELECTOR, "details.v-fail[open] ul").text
    assert ":" in reason and reason.split(":")[0].count(".") == 1  # a rule code
    # runs: a plain pass (icelake + CUDA 13 on the H200) and passes with a caveat (the build's
    # glibc 2.36 is newer than the host's 2.28/2.34: libc.build-newer), as `check` says
    assert len(browser.find_elements(By.CSS_SELECTOR, "details.v-pass")) >= 1
    runs = browser.find_elements(By.CSS_SELECTOR, "details.v-pass, details.v-warn")
    assert len(runs) >= 3
    shoot(browser, "matrix", 760)


def test_diff_page(browser: Any, served: tuple[server.Served, dict[str, str]]) -> None:
    from selenium.webdriver.common.by import By

    s, ids = served
    browser.get(s.base + "/?q=hdf5")
    browser.find_element(By.CSS_SELECTOR, f"input[name=a][value='{ids['hdf5@1.14.5']}']").click()
    browser.find_element(By.CSS_SELECTOR, f"input[name=b][value='{ids['hdf5@1.14.6']}']").click()
    browser.find_element(By.XPATH, "//button[text()='Compare a and b']").click()
    wait_for_url(browser, "/diff?")
    body = text(browser)
    assert "hdf5@1.14.5 (a) → hdf5@1.14.6 (b)" in body
    first = browser.find_element(By.CSS_SELECTOR, "table.diff tbody tr").text
    assert first.split() == ["version", "1.14.5", "1.14.6"]
    assert "Changed" in body
    shoot(browser, "diff", 900)


def test_hostile_record_runs_no_script(
    browser: Any, served: tuple[server.Served, dict[str, str]]
) -> None:
    from selenium.webdriver.common.by import By

    s, ids = served
    browser.get(s.base + "/hosts")
    browser.execute_script("localStorage.setItem('np-sentinel', 'intact')")
    browser.get_log("browser")  # drop what came before
    for path in (
        f"/records/{ids['hostile']}",
        "/?q=zlib-ng",
        f"/diff?a={ids['zlib-ng@2.3.3']}&b={ids['hostile']}",
    ):
        browser.get(s.base + path)
        assert browser.execute_script("return localStorage.getItem('np-sentinel')") == "intact", (
            path
        )
        assert browser.title != "pwned"
        assert browser.find_elements(By.TAG_NAME, "script") == []
        assert browser.find_elements(By.TAG_NAME, "svg") == []
        assert not [i for i in browser.find_elements(By.TAG_NAME, "img")]
    browser.get(s.base + f"/records/{ids['hostile']}")
    assert site.SCRIPT in text(browser)  # shown as text, as a person reads it
    assert site.IMG in text(browser)
    messages = [m["message"] for m in browser.get_log("browser")]
    assert not [m for m in messages if "Content Security Policy" in m], messages
