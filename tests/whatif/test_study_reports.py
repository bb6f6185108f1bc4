"""Every example study in ``studies/`` answers its question in the first lines of its report.

Each study runs at a reduced size (2 replications of 2 h: the wording, not the numbers, is under
test), its HTML report is opened in headless Chromium, and the rendered page is checked:

- the DOM Chromium serialises after rendering starts with the title and then the answer, one
  line per variant (``wording.headline``), before any study detail, table or plot;
- a screenshot of the first screen (1200 x 700 px) shows the answer box (its own background
  colour), so the answer is visible without scrolling.
"""

from __future__ import annotations

import html
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from analytics.whatif import LocalExecutor, load_study, render_html
from analytics.whatif.runner import run_studies
from analytics.whatif.wording import headline
from tests.whatif.conftest import STUDIES
from tests.whatif.test_report_chromium import FLAGS, _artifacts, _chromium, _pixels, _screenshot

STUDY_FILES = sorted(STUDIES.glob("*.yaml"))
ANSWER_BACKGROUND = (0xFF, 0xF4, 0xC2)


class _Text(HTMLParser):
    """Visible text of a page, one entry per text node (no style or title)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        self._skip += tag in ("style", "title", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "title", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.lines.append(" ".join(data.split()))


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """Run every example study (small) and write its report; name -> (page, headline)."""
    studies = [
        load_study(path, replications=2, run_length="2h", warmup="20m") for path in STUDY_FILES
    ]
    folder = tmp_path_factory.mktemp("study_reports")
    out = {}
    for study, result in zip(studies, run_studies(studies, LocalExecutor(2)), strict=True):
        page = folder / f"{study.name}.html"
        page.write_text(render_html(result, generated="test"), encoding="utf-8")
        out[study.name] = (page, headline(result))
    return out


def test_every_study_file_is_covered(reports) -> None:
    assert len(reports) == len(STUDY_FILES) >= 6


@pytest.mark.parametrize("path", STUDY_FILES, ids=lambda p: p.stem)
def test_the_report_states_its_answer_first(reports, path: Path, tmp_path: Path) -> None:
    browser = _chromium()
    name = path.stem
    page, answer = reports[name]
    cmd = [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom"]
    done = subprocess.run(
        [*cmd, page.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=False
    )
    assert "<body>" in done.stdout, done.stderr[-2000:]
    parser = _Text()
    parser.feed(done.stdout)
    lines = parser.lines
    variants = len(answer)
    assert lines[0] == f"What-if study: {name}"
    assert lines[1:3] == ["Answer", "Significant changes against the base:"]
    assert lines[3 : 3 + variants] == answer, lines[: 3 + variants]
    assert all(re.match(r"^[A-Za-z0-9_.-]+( \(.*\))?: ", line) for line in answer)
    shot = _artifacts() / f"{name}.png"
    first_screen = [*FLAGS[:-1], "--window-size=1200,700"]
    image = _screenshot(browser, page, shot, tmp_path / "profile2", flags=first_screen)
    assert _pixels(image, ANSWER_BACKGROUND, tol=4) > 20_000, f"no answer box on {shot}"
    assert html.escape(answer[0]) in page.read_text(encoding="utf-8")
