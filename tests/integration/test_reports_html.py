"""The HTML drift report of a real run, rendered by a real headless Chromium.

The report comes from the drift playbook against the local control plane
(one application drifted by a live edit, one in sync). Chromium takes a
screenshot, which is decoded here: a PNG of the window's size whose badge
colours sit on one band of pixel rows per application, the OutOfSync badge on
the drifted one's. Chromium's rendered DOM must hold a row per application,
by name and status, and the expandable diff of the drifted object. (Reading
the names out of the pixels would need OCR; the DOM check covers them.)
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from role_helpers import application, web_app


CHROMIUM_TIMEOUT = 120
WINDOW = (1280, 900)
# badge colours of report.html (_report._CSS): Synced (green) and OutOfSync (orange)
SYNCED_GREEN = (0x1A, 0x7F, 0x37)
OUT_OF_SYNC_ORANGE = (0xB3, 0x59, 0x00)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("this test needs Debian's chromium: apt-get install -y chromium")
    return found


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT, check=False)


def png_pixels(data: bytes) -> tuple[int, int, list[set[tuple[int, int, int]]]]:
    """Width, height and, per pixel row, the set of RGB colours of an 8-bit RGB or RGBA PNG (non-interlaced)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    position, chunks, header = 8, [], None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    assert header is not None
    width, height, depth, colour_type, dummy, dummy, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytearray(stride)
    rows: list[set[tuple[int, int, int]]] = []
    offset = 0
    for dummy in range(height):
        kind, line = raw[offset], bytearray(raw[offset + 1:offset + 1 + stride])
        offset += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                estimate = left + up - up_left
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + predictor) & 0xFF
        rows.append({(line[i], line[i + 1], line[i + 2]) for i in range(0, stride, channels)})
        previous = line
    return width, height, rows


def bands(rows: list[set[tuple[int, int, int]]], colour: tuple[int, int, int]) -> list[tuple[int, int]]:
    """The runs of consecutive pixel rows (first, last) in which the colour appears."""
    found: list[tuple[int, int]] = []
    for y, colours in enumerate(rows):
        if colour not in colours:
            continue
        if found and found[-1][1] == y - 1:
            found[-1] = (found[-1][0], y)
        else:
            found.append((y, y))
    return found


class Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.details = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr" and ("class", "application") in attrs:
            self.rows.append(dict(attrs))
        self.details += tag == "details"


def test_drift_report_renders_in_chromium_with_a_row_and_badges_per_application(
        tmp_path, run_role, git_repo, kubectl, namespace):
    repo = git_repo()
    repo.commit(web_app())
    apps = {"gitops_applications": [application("storefront", repo.url, "web", namespace),
                                    application("settings-app", repo.url, "settings", namespace)]}
    assert run_role("gitops.kubernetes.sync", {"prod": apps}).rc == 0
    kubectl.run("scale", "deployment/web", "--replicas=3", "-n", namespace)
    drift = run_role("gitops.kubernetes.drift", {"prod": apps})
    assert drift.rc == 0, drift.stdout[-3000:]
    page = drift.report_dir / "report.html"

    screenshot = tmp_path / "report.png"
    shot = run_chromium(tmp_path, f"--screenshot={screenshot}", page.as_uri())
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    data = screenshot.read_bytes()
    assert 10_000 < len(data) < 5_000_000
    width, height, rows = png_pixels(data)
    assert (width, height) == WINDOW
    assert len(set().union(*rows)) > 50  # text, badges and table lines, not a blank page
    # the badges as drawn: green ones (Healthy, Synced) on two table rows, one per application, and the
    # orange OutOfSync badge on the first of them only (storefront, the drifted application)
    green, orange = bands(rows, SYNCED_GREEN), bands(rows, OUT_OF_SYNC_ORANGE)
    assert len(green) == 2 and len(orange) == 1, (green, orange)
    assert green[0][0] <= orange[0][0] <= orange[0][1] <= green[0][1] < green[1][0]

    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    rows = Rows()
    rows.feed(dom.stdout)
    assert [(row["data-application"], row["data-status"]) for row in rows.rows] == [
        ("storefront", "OutOfSync"), ("settings-app", "Synced")]
    assert rows.details == 1  # the expandable diff of the scaled Deployment
    assert "Deployment.apps" in dom.stdout and "replicas: 3" in dom.stdout
