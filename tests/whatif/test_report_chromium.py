"""The HTML report opened in headless Chromium shows its plots.

Chromium renders the report to a PNG screenshot, kept as a test artefact in
``tests/artifacts/whatif/report.png`` (or ``$TWIN_TEST_ARTIFACTS/whatif``). The test counts
pixels of the plots' own colours (green state bars and better-verdict markers, the base's blue)
in the screenshot, against a control rendering of the same page with the images removed.

Needs Debian's ``chromium`` (``apt-get install -y chromium``): skipped when it is missing,
except with ``CI=true``, where a missing browser fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from analytics.whatif import render_html
from tests.whatif.conftest import ROOT

GREEN = (0x2C, 0xA0, 0x2C)
BLUE = (0x1F, 0x77, 0xB4)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1200,5000",
)


def _chromium() -> str:
    for name in (
        os.environ.get("TWIN_TEST_CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        if name and (found := shutil.which(name)):
            return found
    message = "chromium not found (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _screenshot(
    browser: str, page: Path, out: Path, profile: Path, flags: tuple[str, ...] | list[str] = FLAGS
) -> np.ndarray:
    cmd = [
        browser,
        *flags,
        f"--user-data-dir={profile}",
        f"--screenshot={out}",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert out.exists(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return (imread(str(out))[:, :, :3] * 255).round().astype(int)


def _pixels(image: np.ndarray, rgb: tuple[int, int, int], tol: int = 12) -> int:
    return int((np.abs(image - np.array(rgb)).max(axis=2) <= tol).sum())


def _artifacts() -> Path:
    base = Path(os.environ.get("TWIN_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
    path = base / "whatif"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_the_report_shows_its_plots_in_chromium(small_result, tmp_path: Path) -> None:
    browser = _chromium()
    text = render_html(small_result, generated="test")
    page, control = tmp_path / "report.html", tmp_path / "control.html"
    page.write_text(text, encoding="utf-8")
    control.write_text(re.sub(r'<img class="plot"[^>]*>', "", text), encoding="utf-8")
    shot = _artifacts() / "report.png"
    image = _screenshot(browser, page, shot, tmp_path / "profile1")
    bare = _screenshot(browser, control, tmp_path / "control.png", tmp_path / "profile2")
    green, blue = _pixels(image, GREEN), _pixels(image, BLUE)
    assert green > 5000, f"state bars and markers missing: {green} green pixels in {shot}"
    assert blue > 100, f"base markers missing: {blue} blue pixels in {shot}"
    assert _pixels(bare, GREEN) < green / 20 and _pixels(bare, BLUE) < blue / 5
