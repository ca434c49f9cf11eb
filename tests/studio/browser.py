"""Driving the studio page in Debian's headless Chromium through selenium (chromium-driver):
used by the end-to-end test and by ``scripts/studio_screenshots.py``."""

from __future__ import annotations

import os
import shutil
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def missing() -> str | None:
    """Why no browser can be driven here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(os.path.basename(path))):
            return f"{path} not installed (scripts/chromium_local.sh installs it, as root)"
    return None


def chromium(width: int = 1280, height: int = 900) -> Any:
    """A headless Chromium WebDriver (no sandbox: tests run as root)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--mute-audio"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={width},{height}")
    options.binary_location = shutil.which("chromium") or CHROMIUM
    service = Service(shutil.which("chromedriver") or CHROMEDRIVER)
    return webdriver.Chrome(service=service, options=options)


def wait(driver: Any, seconds: float, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(condition)


def open_tab(driver: Any, name: str) -> None:
    from selenium.webdriver.common.by import By

    tab = wait(
        driver,
        30,
        lambda d: next(
            (b for b in d.find_elements(By.CSS_SELECTOR, "button[role=tab]") if b.text == name),
            None,
        ),
    )
    tab.click()


def pick(driver: Any, elem_id: str, text: str | None = None) -> str:
    """Choose an option of the dropdown ``#elem_id`` (the first, or the one containing text)."""
    from selenium.webdriver.common.by import By

    box = wait(driver, 10, lambda d: d.find_element(By.CSS_SELECTOR, f"#{elem_id} input"))
    box.click()
    option = wait(
        driver,
        10,
        lambda d: next(
            (
                o
                for o in d.find_elements(By.CSS_SELECTOR, f"#{elem_id} li[role=option]")
                if o.is_displayed() and (text is None or text in o.text)
            ),
            None,
        ),
    )
    chosen = option.text
    option.click()
    return chosen


def playable_audio(driver: Any, elem_id: str, seconds: float) -> dict[str, Any]:
    """Wait for the audio player in ``#elem_id`` (gradio's waveform player: a Play button and
    the file's link), then load that file in an ``Audio`` element of the page: its src, the
    duration the browser decoded (``None`` and ``error`` when it could not) and whether the
    player's Play button starts playing."""
    from selenium.webdriver.common.by import By

    def link(d: Any) -> str | None:
        for a in d.find_elements(By.CSS_SELECTOR, f"#{elem_id} a[href*='gradio_api/file=']"):
            if a.get_attribute("href"):
                return a.get_attribute("href")
        return None

    src = wait(driver, seconds, link)
    state = driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; const a = new Audio(arguments[0]);"
        "a.onloadedmetadata = () => done({duration: a.duration, error: null});"
        "a.onerror = () => done({duration: null, error: a.error && a.error.code});",
        src,
    )
    play = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} button[aria-label=Play]")
    play.click()
    playing = wait(
        driver,
        10,
        lambda d: d.find_elements(By.CSS_SELECTOR, f"#{elem_id} button[aria-label=Pause]"),
    )
    return {"src": src, **state, "playing": bool(playing)}


def loaded_image(driver: Any, elem_id: str, seconds: float) -> dict[str, Any]:
    """Wait for a decoded ``<img>`` in ``#elem_id``: its src and natural size."""
    from selenium.webdriver.common.by import By

    def ready(d: Any) -> dict[str, Any] | None:
        for img in d.find_elements(By.CSS_SELECTOR, f"#{elem_id} img"):
            size = d.execute_script(
                "const i = arguments[0]; return {src: i.currentSrc || i.src, "
                "width: i.naturalWidth, height: i.naturalHeight, complete: i.complete};",
                img,
            )
            if size["complete"] and size["width"] > 0:
                return size
        return None

    return wait(driver, seconds, ready)
