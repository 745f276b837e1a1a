"""``report.html`` in a real headless browser (Debian's chromium and chromium-driver, driven by
selenium): it loads offline without console errors, shows something, and its shared-weight
slider changes the episode shown and its return.

Without chromium the tests fail where it can be installed (CI, or as root: ``make test``
installs it from Debian) and are skipped, saying why, elsewhere.
"""

import io
import os
import re
import shutil

import numpy as np
import pytest
from harness import ROOT, launch
from PIL import Image

CHAMPION = ROOT / "docs" / "results" / "swingup" / "stratified_1024" / "seed_1" / "best_genome.json"
#: A report in seconds: small budgets, 200-step episodes (the video included).
FLAGS = ["--episodes", "6", "--sweep", "17", "--tune-generations", "2", "--tune-popsize", "4"]
FLAGS += ["--tune-episodes", "1", "--fixed-hidden", "2", "--set", "episode_steps=200", "--quiet"]


def find_browser() -> tuple[str, str]:
    """Paths of chromium and chromedriver; fails or skips (see the module) without them."""
    names = ("chromium", "chromium-browser", "google-chrome")
    browser = next((p for p in map(shutil.which, names) if p), None)
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    message = (
        "chromium and chromedriver are needed to test report.html (Debian: apt-get install "
        "chromium chromium-driver; `make test` installs them as root)"
    )
    if os.environ.get("CI") == "true" or os.geteuid() == 0:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """report.html of the committed seed-1 champion, with its episodes rendered."""
    out = tmp_path_factory.mktemp("html") / "report"
    proc = launch("-m", "src.report", str(CHAMPION), *FLAGS, "--out", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out / "report.html"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1200,1600")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


def load(browser, page):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page.as_uri())
    ready = "return document.body.dataset.ready"
    WebDriverWait(browser, 30).until(lambda b: b.execute_script(ready) == "1")


def picture(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int64)


def test_page_is_self_contained(page):
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # no CDN, no fetch
    assert "@import" not in text and text.count("data:image/") >= 3 + 16  # pictures + sheets
    assert "723 ± 16" in text and "<b>this run</b>" in text  # the paper's numbers beside ours
    assert (page.parent / "episodes.gif").is_file() and (page.parent / "episodes.mp4").is_file()


def test_page_loads_without_console_errors_and_is_not_blank(browser, page):
    load(browser, page)
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    shot = picture(browser.get_screenshot_as_png())
    assert shot.std() > 20 and (shot < 128).mean() > 0.005, shot.std()
    canvas = picture(browser.find_element("id", "episode").screenshot_as_png)
    assert canvas.std() > 5  # the episode is drawn, not an empty canvas


def set_range(browser, element_id, value):
    """What a user's drag does: a new value, then the input event the page listens to."""
    browser.execute_script(
        "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
        "e.dispatchEvent(new Event('input', {bubbles: true}));",
        element_id,
        str(value),
    )


def test_weight_slider_changes_the_episode_and_its_return(browser, page):
    load(browser, page)
    browser.find_element("id", "play").click()  # pause: frames change only with the sliders
    assert browser.find_element("id", "play").text == "play"
    last = browser.find_element("id", "time").get_attribute("max")
    assert int(last) >= 20  # frames of the 200 steps
    set_range(browser, "time", last)  # the episodes' end: the weights have parted by then

    def seen():
        canvas = browser.find_element("id", "episode")
        return (
            picture(canvas.screenshot_as_png),
            browser.find_element("id", "weight-value").text,
            browser.find_element("id", "running").text,
            canvas.get_attribute("data-frame"),
        )

    states = {}
    for w in (-2.0, -0.5, 2.0):
        set_range(browser, "weight", w)
        states[w] = seen()
    assert [s[1] for s in states.values()] == ["w = -2", "w = -0.5", "w = +2"]
    assert all(s[3] == last for s in states.values())  # the same moment of each episode
    pictures = [s[0] for s in states.values()]
    returns = {s[2] for s in states.values()}
    assert len(returns) == 3, returns
    for a in range(3):
        for b in range(a + 1, 3):
            assert np.abs(pictures[a] - pictures[b]).sum() > 1000, (a, b)
    set_range(browser, "weight", -1.93)  # snaps to the nearest rendered weight
    assert browser.find_element("id", "weight-value").text == "w = -2"
    assert browser.find_element("id", "running").text == states[-2.0][2]
