"""Crawled content is hostile: it must come out of the Markdown report inert."""

from __future__ import annotations

import datetime as dt
import json
import re

from markdown_it import MarkdownIt

from crawler.config import load_config
from crawler.demo.server import DocServer, Fault
from crawler.pipeline import crawl
from crawler.report.render import md_code, md_link, md_text

PAYLOAD_PAGE = b"""<!DOCTYPE html><html><head><title>x</title></head><body>
<main class="content"><div id="top-content">
<h1>&lt;script&gt;alert(1)&lt;/script&gt; Overview</h1>
<h2>&lt;img src=x onerror=alert(2)&gt;</h2>
<p>Click [here](javascript:alert(3)) or <a href="javascript:alert(4)">here</a>
&lt;iframe src=https://evil.example/&gt; ``` closing fence</p>
</div></main></body></html>"""


def render_html(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def test_filters_neutralise_markup_and_links():
    assert md_text("<b>x</b> *y* [z](javascript:1)") == r"\<b\>x\</b\> \*y\* \[z\](javascript:1)"
    assert md_link("t", "javascript:alert(1)") == "t"
    assert md_link("t", "data:text/html,<script>") == "t"
    assert md_link("t", "https://ok.example/a b") == "[t](<https://ok.example/a%20b>)"
    block = md_code("```\n<script>")
    assert block.startswith("````") and block.endswith("````")


def test_hostile_page_comes_out_inert_in_the_markdown_report(tmp_path):
    with DocServer(version="v1") as site:
        config_path = tmp_path / "sources.yaml"
        config_path.write_text(f"""
report: {{title: "Safety", dir: out}}
sources:
  - name: docs
    kind: exdoc
    urls: [{site.base_url}/lumen/]
""")
        config = load_config(config_path)
        db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        crawl(config, date=dt.date(2024, 1, 1), database=db)
        site.set_version("v2")  # json_apis.html is new in v2: it arrives hostile
        site.set_fault("/lumen/json_apis.html",
                       Fault(kind="body", body=PAYLOAD_PAGE, content_type="text/html"))
        outcome = crawl(config, date=dt.date(2024, 1, 2), database=db)

    md = outcome.report_paths[0].read_text()
    assert "alert(1)" in md  # the text is reported...
    html = render_html(md)   # ...but once rendered, nothing executes or links out
    assert "<script" not in html and "<img" not in html and "<iframe" not in html
    assert not re.search(r"href=\"(?!https?:)", html)
    # The JSON twin carries the raw text as data, which is what JSON is for.
    data = json.loads(outcome.report_paths[1].read_text())
    assert any("<script>" in c["title"] for c in data["changes"])
    # File names come from the configured title and the date only.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()
                  if p.suffix in (".md", ".json")) == [
        "2024-01-01-safety.json", "2024-01-01-safety.md",
        "2024-01-02-safety.json", "2024-01-02-safety.md"]
