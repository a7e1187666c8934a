"""Render a realistic HTML report and screenshot it with headless Chromium, to look at.

Crawls the bundled demo site (v1, then v2) from a local server into OUT (default
/tmp/htmlcheck), writes the reports there and saves ``report.png`` and ``index.png``::

    .venv/bin/python bench/screenshot_report.py [OUT] [--dark]

Needs a ``chromium`` (or ``chromium-browser``) binary; no network beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from crawler.config import load_config
from crawler.demo.server import DocServer
from crawler.pipeline import crawl
from crawler.report.render import INDEX_NAME

CONFIG = """
report:
  title: "Lumen Research"
  dir: reports
sources:
  - name: docs
    kind: exdoc
    urls: [{base}/lumen/, {base}/lumen_live/]
skills:
  - name: live
    path: skills/live/SKILL.md
    watches: ["{base}/lumen_live/*"]
    keywords: [lm-update]
  - name: routing
    watches: ["{base}/lumen/routing.html"]
    keywords: [Lumen.Router]
"""


def chromium_binary() -> str | None:
    """The headless-capable Chromium on PATH, if any."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(html: Path, png: Path, *, dark: bool = False, height: int = 4000) -> None:
    """Save a 1200px-wide screenshot of the local file ``html`` to ``png``."""
    binary = chromium_binary()
    if binary is None:
        sys.exit("no chromium binary on PATH (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                f"--user-data-dir={profile}", f"--screenshot={png}",
                f"--window-size=1200,{height}", html.resolve().as_uri()]
        if dark:
            args.insert(1, "--force-dark-mode")
        subprocess.run(args, check=True, timeout=60, capture_output=True)


def main() -> None:
    """Crawl v1 then v2 of the demo site and screenshot the report and the index."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("/tmp/htmlcheck"))
    parser.add_argument("--dark", action="store_true", help="emulate a dark system theme")
    args = parser.parse_args()
    out: Path = args.out
    # A fresh database and report folder, so the second run shows the v1 -> v2 changes;
    # earlier screenshots stay, to compare the light and dark themes.
    (out / "docwatch.sqlite3").unlink(missing_ok=True)
    shutil.rmtree(out / "reports", ignore_errors=True)
    (out / "skills" / "live").mkdir(parents=True, exist_ok=True)
    (out / "skills" / "live" / "SKILL.md").write_text("---\nname: live\n---\n# Live\n")
    with DocServer(version="v1") as site:
        (out / "sources.yaml").write_text(CONFIG.format(base=site.base_url))
        config = load_config(out / "sources.yaml")
        database = f"sqlite:///{out / 'docwatch.sqlite3'}"
        crawl(config, date=dt.date(2024, 1, 2), database=database)
        site.set_version("v2")
        outcome = crawl(config, date=dt.date(2024, 2, 2), database=database)
    html = outcome.report_paths[0].with_suffix(".html")
    suffix = "-dark" if args.dark else ""
    screenshot(html, out / f"report{suffix}.png", dark=args.dark)
    screenshot(html.parent / INDEX_NAME, out / f"index{suffix}.png", dark=args.dark, height=600)
    print(html)
    print(out / f"report{suffix}.png")
    print(out / f"index{suffix}.png")


if __name__ == "__main__":
    main()
