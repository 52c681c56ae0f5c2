"""Screenshots of the web workspace for docs/web.md, on the generated eight-year archive.

``python tests/web_screenshots.py docs`` generates the archive (tests/archive.py) in a temporary
folder, raises its alerts, makes a lead's account, starts ``emomon serve`` there, logs in through
the form in headless Chromium (Playwright, Debian's chromium) and writes ``web-queue.png``,
``web-alert.png`` and ``web-author.png`` into the folder named.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from archive import DECADE, generate
from web_site import PASSWORD, run_emomon, start_server, stop

from monitor.api import Emomon


def shoot(out: Path) -> list[Path]:
    """Write the three screenshots into ``out``; return their paths."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "no chromium on PATH"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = generate(root)
        with Emomon(cfg) as em:
            assert em.run(["alerts"]).ok
            alert = next(a for a in em.alerts() if a["subject"] == DECADE)
        made = run_emomon(root, "users", "add", "lee", "--role", "lead", "--password-stdin", stdin=PASSWORD + "\n")
        assert made.returncode == 0, made.stderr
        process, url = start_server(root)
        shots = [out / "web-queue.png", out / "web-alert.png", out / "web-author.png"]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(base_url=url, viewport={"width": 1200, "height": 900})
                page.goto("/login")
                page.fill("input[name=username]", "lee")
                page.fill("input[name=password]", PASSWORD)
                page.click("form.login button[type=submit]")
                page.wait_for_url("**/alerts")
                page.screenshot(path=str(shots[0]))
                page.goto(f"/alerts/{alert['id']}")
                page.screenshot(path=str(shots[1]), full_page=True)
                page.goto(f"/authors/{DECADE}")
                page.screenshot(path=str(shots[2]), full_page=True)
                browser.close()
        finally:
            stop(process)
    return shots


if __name__ == "__main__":
    for path in shoot(Path(sys.argv[1])):
        print(path)
