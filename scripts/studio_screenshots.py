"""Screenshots of each studio tab for the README (docs/studio_*.png), in headless Chromium.

    .venv/bin/python scripts/studio_screenshots.py --runs outputs/ [--out docs] [--tabs edit]

Starts the studio on ``--runs`` (a VQ-VAE run, a prior on it and, best, a vocoder), then on each
tab does what a person would (pick a run, Listen / Generate / Edit) and saves the page, scaled
to 960 pixels wide with a 256-colour palette so the PNGs stay small. ``--tabs`` saves only the
named tabs (runs, listen, generate, edit; all by default).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rvqvae.studio.server import start  # noqa: E402
from tests.studio import browser  # noqa: E402

BOTTOM = (
    "return Math.max(...[...document.querySelectorAll('.block')]"
    ".filter(e => e.offsetParent).map(e => e.getBoundingClientRect().bottom + window.scrollY))"
)


TABS = ("runs", "listen", "generate", "edit")


def save(driver, path: Path, width: int = 960) -> None:
    from PIL import Image

    bottom = int(driver.execute_script(BOTTOM)) + 16  # the last visible block, not the footer
    driver.set_window_size(1280, max(600, bottom + 140))  # the window chrome is ~140 px
    raw = path.with_suffix(".raw.png")
    driver.save_screenshot(str(raw))
    image = Image.open(raw).convert("RGB")
    image = image.crop((0, 0, image.width, min(image.height, bottom)))
    image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    raw.unlink()
    print(f"{path}: {path.stat().st_size // 1024} KiB")


def type_number(driver, elem_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input")
    box.clear()
    box.send_keys(value)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--out", default=str(REPO / "docs"))
    p.add_argument("--cache-dir", default=str(REPO / ".cache"))
    p.add_argument("--tabs", nargs="+", choices=TABS, default=list(TABS))
    p.add_argument(
        "--edit-run", default="prior", help="the Edit tab's run: the first whose name has this"
    )
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory(prefix="studio-shots-") as tmp:
        cfg = {"runs": a.runs, "cache_dir": a.cache_dir, "port": 0}
        studio = start(cfg, tmp)
        driver = browser.chromium(1280, 1500)
        try:
            driver.get(studio.url)
            browser.wait(
                driver,
                30,
                lambda d: "val/norm_l1" in d.find_element(By.ID, "runs-table").text,
            )
            if "runs" in a.tabs:
                save(driver, out / "studio_runs.png")
            if "listen" in a.tabs:
                listen(driver, out)
            if "generate" in a.tabs:
                generate(driver, out)
            if "edit" in a.tabs:
                edit(driver, out, a.edit_run)
        finally:
            driver.quit()
            studio.close()


def listen(driver, out: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.open_tab(driver, "Listen")
    browser.pick(driver, "listen-run")
    browser.wait(
        driver,
        120,
        lambda d: d.execute_script(
            "return document.querySelectorAll('input[aria-label=\"validation file\"]')[0].value"
        ),
    )
    driver.find_element(By.ID, "listen-button").click()
    browser.loaded_image(driver, "listen-grid", 120)
    save(driver, out / "studio_listen.png")


def generate(driver, out: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.open_tab(driver, "Generate")
    browser.pick(driver, "prior-run")
    driver.find_element(By.ID, "generate-button").click()
    browser.loaded_image(driver, "generated-grid", 120)
    save(driver, out / "studio_generate.png")


def edit(driver, out: Path, run: str = "prior") -> None:
    from selenium.webdriver.common.by import By

    browser.open_tab(driver, "Edit")
    browser.pick(driver, "edit-run", run)
    browser.wait(
        driver,
        120,
        lambda d: d.execute_script(
            "return document.querySelectorAll('input[aria-label=\"A: a validation file\"]')"
            "[0].value"
        ),
    )
    type_number(driver, "edit-start", "0.5")
    type_number(driver, "edit-end", "1.5")
    driver.find_element(By.ID, "edit-button").click()
    browser.loaded_image(driver, "edited-grid", 180)
    save(driver, out / "studio_edit.png")


if __name__ == "__main__":
    main()
