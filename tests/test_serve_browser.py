"""The ``tinynet serve`` page in a real browser: headless Chromium (Debian's ``chromium``) driven by
Selenium through Debian's ``chromium-driver``, whose version always matches the browser's.

A "7" and a "1" are drawn on the canvas with mouse (pointer) events; the page must show that digit
as the top class, ten bars and the feature maps, with alt text on every image. Undo, clear (button
and key), an upload and the model picker are used as a student would. A screenshot is saved.
Skipped, with one line, where chromium, chromedriver or selenium (``pip install -e '.[browser]'``)
is missing; ``.ci/run`` installs them.
"""
import os
import shutil

import numpy as np
import pytest

from serve_fixtures import Running, png_bytes, train_lenet

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver "
                                "(apt-get install chromium chromium-driver)")

SEVEN = [(-70, -80), (70, -80), (45, -20), (20, 40), (0, 95)]     # CSS pixels from the pad's centre
ONE = [(5, -95), (5, -40), (5, 20), (5, 95)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return train_lenet(tmp_path_factory.mktemp("browser") / "lenet")


@pytest.fixture(scope="module")
def browser(checkpoint):
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium: pip install -e '.[browser]'")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1000",
                 "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    with Running([checkpoint, checkpoint]) as server:
        try:
            driver.get(server.url)
            wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "1")
            yield driver
        finally:
            driver.quit()


def wait(driver, condition, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(condition)


def draw(driver, points):
    """One stroke through ``points`` (offsets from the pad's centre), by the mouse, in small steps."""
    from selenium.webdriver.common.action_chains import ActionChains
    pad = driver.find_element("id", "pad")
    chain = ActionChains(driver, duration=10).move_to_element_with_offset(pad, *points[0]).click_and_hold()
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for t in np.linspace(0, 1, 8)[1:]:
            chain.move_to_element_with_offset(pad, round(x0 + t * (x1 - x0)), round(y0 + t * (y1 - y0)))
    chain.release().perform()


def top(driver):
    return driver.find_element("id", "top").text


def shows(driver, digit):
    """Wait until every answer is in and the page shows ``digit`` on top; return its bars and maps."""
    try:
        wait(driver, lambda d: d.execute_script("return document.body.dataset.idle") == "1" and top(d) == digit
             and "reads" in d.find_element("id", "status").text)
    except Exception:
        raise AssertionError(f"the page shows {top(driver)!r}: {driver.find_element('id', 'status').text}") from None
    bars = driver.find_elements("css selector", "#bars li")
    probabilities = [float(b.get_attribute("data-p")) for b in bars]
    best = [b.get_attribute("data-cls") for b in bars if "best" in b.get_attribute("class")]
    maps = driver.find_elements("css selector", "#maps img")
    return probabilities, best, maps


def test_drawing_a_seven_and_a_one(browser, tmp_path):
    driver = browser
    draw(driver, SEVEN[:2])                 # the bar of the 7, then its leg: two strokes
    draw(driver, SEVEN[1:])
    probabilities, best, maps = shows(driver, "7")
    assert len(probabilities) == 10 and abs(sum(probabilities) - 1) < 1e-3 and best == ["7"]
    assert max(probabilities) == probabilities[7]
    widths = [b.find_element("css selector", ".fill").size["width"] for b in driver.find_elements("css selector", "#bars li")]
    assert widths[7] == max(widths) > 0
    assert len(maps) == 4 * 8 and all(m.get_attribute("alt") for m in maps)     # lenet: 2 convs + 2 pools, 8 channels
    assert [h.text for h in driver.find_elements("css selector", "#maps h3")][0].startswith("layer 0 Conv2d")
    seen = driver.find_element("id", "input")
    assert driver.execute_script("return arguments[0].naturalWidth", seen) == 28 and "reads as 7" in seen.get_attribute("alt")
    assert driver.execute_script("return arguments[0].naturalWidth", driver.find_element("id", "saliency")) == 28
    assert all(img.get_attribute("alt") for img in driver.find_elements("tag name", "img"))
    shot = tmp_path / "serve.png"
    assert driver.save_screenshot(str(shot)) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("TINYNET_SCREENSHOT"):                # where to keep a copy (the README's picture)
        shutil.copy(shot, os.environ["TINYNET_SCREENSHOT"])

    driver.find_element("id", "undo").click()         # the leg is gone: a bar alone is no 7
    wait(driver, lambda d: "reads" in d.find_element("id", "status").text and len(d.find_elements("css selector", "#maps img")))
    driver.find_element("id", "clear").click()
    assert top(driver) == "–" and driver.find_elements("css selector", "#maps img") == []

    draw(driver, ONE)
    probabilities, best, maps = shows(driver, "1")
    assert best == ["1"] and len(maps) == 32
    driver.find_element("tag name", "body").send_keys("c")       # the keyboard clears too
    wait(driver, lambda d: top(d) == "–")


def sure_three(checkpoint):
    """A test 3, black on white, enlarged 4×, that the model reads as 3 surely."""
    from data_tools.mnist import load_mnist
    from tinynet.predictor import Predictor
    images, labels = load_mnist("test")
    predictor = Predictor.load(checkpoint)
    for k in np.flatnonzero(labels == 3):
        page = np.ones((120, 120), np.float32)
        page[4:116, 4:116] = 1 - np.kron(images[k] / 255.0, np.ones((4, 4)))
        if predictor.probabilities(predictor.prepare(page)[1])[3] > 0.9:
            return page
    raise AssertionError("the model reads no test 3 surely")


def test_upload_and_model_picker(browser, checkpoint, tmp_path):
    from selenium.webdriver.support.ui import Select
    page = sure_three(checkpoint)
    upload = tmp_path / "three.png"
    upload.write_bytes(png_bytes(page))
    driver = browser
    driver.find_element("id", "file").send_keys(str(upload))
    shows(driver, "3")
    assert "the uploaded image three.png" in driver.find_element("id", "input").get_attribute("alt")
    picker = Select(driver.find_element("id", "model"))
    assert [o.text for o in picker.options] == ["lenet", "lenet-2"]
    assert "21,840 parameters" in driver.find_element("id", "modelinfo").text
    picker.select_by_visible_text("lenet-2")
    wait(driver, lambda d: d.find_element("id", "status").text.startswith("lenet-2 reads"))
    assert top(driver) == "3"


def test_fits_a_phone_screen(browser):
    """At 360 CSS pixels wide (a small phone) nothing scrolls sideways and a drawing still works."""
    driver = browser
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 360, "height": 740, "deviceScaleFactor": 2,
                                                                  "mobile": True})
    try:
        driver.refresh()
        wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "1")
        draw(driver, [(p[0] // 2, p[1] // 2) for p in ONE])
        shows(driver, "1")
        width, scroll = driver.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
        assert width == 360 and scroll <= width
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_model_names_are_text_not_html(checkpoint, tmp_path):
    """A run folder named like HTML shows as text: its name never becomes markup on the page."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium: pip install -e '.[browser]'")
    from selenium.webdriver.chrome.service import Service
    folder = tmp_path / '<img src=x onerror="document.title=1">'
    folder.mkdir()
    shutil.copy(checkpoint, folder / "checkpoint.npz")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        with Running([folder / "checkpoint.npz"]) as server:
            driver.get(server.url)
            wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "1")
            draw(driver, ONE)
            shows(driver, "1")
            driver.find_element("css selector", "#layers summary").click()
            assert driver.title.startswith("tinynet") and folder.name in driver.find_element("id", "status").text
            assert len(driver.find_elements("css selector", "#layertable th")) == 3
            assert driver.find_elements("css selector", "img[src='x']") == []
    finally:
        driver.quit()
