"""hexdocs.pm's move to per-package subdomains, end to end, as a user of docwatch sees it.

A local mirror serves hosts as the first path segment, as the offline replicas do. On
day A it serves the bundled demo packages ``lumen`` and ``lumen_live`` (ExDoc layout,
``crawler/demo/site/v2``) at ``/hexdocs.pm/<pkg>/``. After :meth:`MirrorSite.move` it
answers 301 from every ``/hexdocs.pm/<pkg>/<rest>`` to
``/<pkg-with-dashes>.hexdocs.pm/<rest>`` and serves the same docs there, the bindings
guide of ``lumen_live`` edited. Everything is crawled into real SQLite, and read back
through the ``docwatch`` command line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner, Result

from crawler.cli import cli
from crawler.config import load_config
from crawler.demo.server import SITE_ROOT, DocServer, content_type_for
from crawler.pipeline import crawl

DAY_A, DAY_B, DAY_B2, DAY_C = (dt.date(2026, 5, 30), dt.date(2026, 6, 2), dt.date(2026, 6, 3),
                                dt.date(2026, 6, 4))
PACKAGES = ("lumen", "lumen_live")
OLD_PATH = re.compile(r"/hexdocs\.pm/([a-z][a-z0-9_]*)(/.*)?")
EDIT = ("Every element that carries `lm-update` needs a unique DOM id",
        "Every element that carries `lm-update` must have a unique and stable DOM id")
EDIT_HTML = tuple(s.replace("`lm-update`", '<code class="inline">lm-update</code>')
                  for s in EDIT)


def subdomain(package: str) -> str:
    return package.replace("_", "-") + ".hexdocs.pm"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, head: bool) -> None:
        site = self.server.site
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = f"?{parts.query}" if parts.query else ""
        old = OLD_PATH.fullmatch(path)
        if site.moved and old:
            location = f"{site.base_url}/{subdomain(old[1])}{old[2] or '/'}{query}"
            return self._send(301, b"Moved Permanently", head, {"Location": location})
        names = [p for p in path.split("/") if p and p != "."]
        target = site.root.joinpath(site.day, *names)
        if ".." in names or not target.resolve().is_relative_to(site.root):
            return self._send(404, b"Not Found", head)
        if target.is_dir():
            if not path.endswith("/"):
                return self._send(301, b"Moved Permanently", head,
                                  {"Location": f"{site.base_url}{path}/{query}"})
            target = target / "index.html"
        if not target.is_file():
            return self._send(404, b"Not Found", head)
        body = target.read_bytes()
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, b"", head, {"ETag": etag})
        self._send(200, body, head, {"ETag": etag, "Content-Type": content_type_for(target)})

    def _send(self, status: int, body: bytes, head: bool,
              headers: dict[str, str] | None = None) -> None:
        self.server.site.log.append((self.command, self.path, status))
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and status != 304:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: MirrorSite


class MirrorSite:
    """A hexdocs mirror on 127.0.0.1 that can make hexdocs.pm's move (see the module)."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.day = "A"
        self.moved = False
        self.log: list[tuple[str, str, int]] = []
        for package in PACKAGES:
            shutil.copytree(SITE_ROOT / "v2" / package, self.root / "A" / "hexdocs.pm" / package)
            shutil.copytree(SITE_ROOT / "v2" / package, self.root / "B" / subdomain(package))
        for name, (old, new) in (("bindings.md", EDIT), ("bindings.html", EDIT_HTML)):
            page = self.root / "B" / subdomain("lumen_live") / name
            text = page.read_text()
            assert old in text, name
            page.write_text(text.replace(old, new))
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.site = self
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def move(self) -> None:
        """From now on: every /hexdocs.pm/<pkg>/... answers 301 to its subdomain."""
        self.day, self.moved = "B", True

    def old(self, package: str, rest: str = "") -> str:
        return f"{self.base_url}/hexdocs.pm/{package}/{rest}"

    def new(self, package: str, rest: str = "") -> str:
        return f"{self.base_url}/{subdomain(package)}/{rest}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[MirrorSite]:
    site = MirrorSite(tmp_path / "site")
    yield site
    site.stop()


def write_config(folder: Path, mirror: MirrorSite, form: str) -> Path:
    """sources.yaml with the package roots in ``form`` ("old" or "new"); the skills'
    watches are always in the same forms: ``old-watcher`` in the path form,
    ``new-watcher`` in the subdomain form, ``routing`` (an unchanged page) old."""
    root = mirror.old if form == "old" else mirror.new
    path = folder / "sources.yaml"
    path.write_text(f"""
report:
  title: "Lumen Research"
  dir: out
http:
  attempts: 1
sources:
  - name: docs
    kind: exdoc
    urls: [{root("lumen")}, {root("lumen_live")}]
skills:
  - name: old-watcher
    watches: ["{mirror.old("lumen_live", "*")}"]
  - name: new-watcher
    watches: ["{mirror.new("lumen_live", "bindings.html")}"]
  - name: routing
    watches: ["{mirror.old("lumen", "routing.html")}"]
""")
    return path


@dataclass
class Run:
    exit_code: int
    data: dict
    markdown: str
    asked: list[tuple[str, str, int]]  # (method, path, status) the mirror answered


class Project:
    def __init__(self, folder: Path, mirror: MirrorSite):
        self.folder = folder
        self.mirror = mirror
        self.db = f"sqlite:///{folder / 'docwatch.sqlite3'}"

    def cli(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, [*args, "--db", self.db])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def crawl(self, date: dt.date, form: str = "old") -> Run:
        config = write_config(self.folder, self.mirror, form)
        self.mirror.log.clear()
        result = self.cli("crawl", "--config", str(config), "--date", date.isoformat(), "-q")
        stem = self.folder / "out" / f"{date.isoformat()}-lumen-research"
        return Run(result.exit_code, json.loads(stem.with_suffix(".json").read_text()),
                   stem.with_suffix(".md").read_text(), list(self.mirror.log))


def changes(run: Run) -> set[tuple[str, str]]:
    return {(c["change"], c["url"]) for c in run.data["changes"]}


@dataclass
class MoveRuns:
    project: Project
    mirror: MirrorSite
    before: Run
    moved: Run
    again: Run
    rewritten: Run


@pytest.fixture(scope="module")
def move_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoveRuns]:
    """Day A: the baseline. Day B: hexdocs moved, the config still in the old form, and
    again the next day. Day C: the config rewritten to the subdomain form."""
    folder = tmp_path_factory.mktemp("move")
    site = MirrorSite(folder / "site")
    project = Project(folder, site)
    before = project.crawl(DAY_A)
    site.move()
    moved = project.crawl(DAY_B)
    again = project.crawl(DAY_B2)
    rewritten = project.crawl(DAY_C, form="new")
    yield MoveRuns(project, site, before, moved, again, rewritten)
    site.stop()


# --- the crawl after the move ---------------------------------------------------------------


def test_the_baseline_is_recorded_under_the_old_urls(move_runs):
    before = move_runs.before
    assert before.exit_code == 0
    assert before.data["changes"] == [] and before.data["errors"] == []
    [source] = before.data["sources"]
    assert source["moved"] == [] and source["pages_checked"] == 9


def test_after_the_move_nothing_is_added_or_removed_and_the_edit_is_under_its_new_url(
        move_runs):
    moved, m = move_runs.moved, move_runs.mirror
    assert moved.exit_code == 0
    assert [r["status"] for r in moved.data["runs"]] == ["completed"]
    assert moved.data["errors"] == []
    assert changes(moved) == {("modified", m.new("lumen_live", "bindings.html"))}
    [change] = moved.data["changes"]
    assert any(line.startswith("+") and "must have a unique and stable DOM id" in line
               for line in change["diff"].splitlines())
    [source] = moved.data["sources"]
    assert source["pages_checked"] == 9 and source["errors"] == 0


def test_every_moved_root_is_reported_once_with_the_url_to_configure(move_runs):
    moved, m = move_runs.moved, move_runs.mirror
    [source] = moved.data["sources"]
    assert sorted(source["moved"], key=lambda move: move["from"]) == [
        {"from": m.old("lumen"), "to": m.new("lumen")},
        {"from": m.old("lumen_live"), "to": m.new("lumen_live")}]
    for package in PACKAGES:
        banner = (f"> **docs moved**: {m.old(package)} now redirects permanently to "
                  f"{m.new(package)}.")
        assert moved.markdown.count(banner) == 1, package
        assert f"({m.old(package)} → {m.new(package)})" in moved.markdown
    assert moved.markdown.count("update `sources.yaml` to the new URL") == 2


def test_the_skill_watching_the_old_form_is_flagged_for_the_page_under_its_new_url(move_runs):
    moved, m = move_runs.moved, move_runs.mirror
    flagged = {s["name"]: s for s in moved.data["skills"]}
    assert set(flagged) == {"old-watcher", "new-watcher"}  # routing did not change
    for name in ("old-watcher", "new-watcher"):
        [reason] = flagged[name]["reasons"]
        assert reason["url"] == m.new("lumen_live", "bindings.html")
        assert reason["why"].startswith("watches")


def test_the_config_in_the_new_form_finds_the_same_pages(move_runs):
    rewritten = move_runs.rewritten
    assert rewritten.exit_code == 0
    assert rewritten.data["changes"] == [] and rewritten.data["errors"] == []
    [source] = rewritten.data["sources"]
    assert source["moved"] == [] and source["pages_checked"] == 9
    assert "moved**" not in rewritten.markdown
    assert "first crawl" not in rewritten.markdown
    # One row per page, renamed to its new URL: no second page for the same guide.
    db = move_runs.project.db.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        pages = dict(conn.execute("select url, status from pages"))
    m = move_runs.mirror
    assert len(pages) == 9 and set(pages.values()) == {"active"}
    assert all(url.startswith((m.new("lumen"), m.new("lumen_live"))) for url in pages)


def test_the_next_run_with_the_old_config_still_says_moved_and_asks_only_new_urls(
        move_runs):
    again = move_runs.again
    assert again.exit_code == 0
    assert again.data["changes"] == [] and again.data["errors"] == []
    assert len(again.data["sources"][0]["moved"]) == 2
    assert again.markdown.count("update `sources.yaml` to the new URL") == 2
    asked = {path: status for _, path, status in again.asked if path != "/robots.txt"}
    assert asked and not [p for p in asked if p.startswith("/hexdocs.pm/")]
    assert set(asked.values()) == {304}  # nothing rebuilt: every page answered 304


def test_the_validators_stored_before_the_move_still_hold_at_the_new_urls(move_runs):
    pages = {(method, path): status for method, path, status in move_runs.moved.asked
             if path.endswith((".html", ".md")) and not path.startswith("/hexdocs.pm/")}
    unchanged = {k: v for k, v in pages.items() if "/bindings." not in k[1]}
    # Only the main pages are read in full, once, to learn the index at the new place.
    assert sorted(k for k, v in unchanged.items() if v != 304) == [
        ("GET", "/lumen-live.hexdocs.pm/welcome.html"), ("GET", "/lumen.hexdocs.pm/overview.html")]
    guides = {"lumen.hexdocs.pm": ["overview", "installation", "routing", "json_apis",
                                   "changelog"],
              "lumen-live.hexdocs.pm": ["welcome", "uploads", "async"]}
    assert {path.rsplit(".", 1)[0] for _, path in unchanged} == {
        f"/{host}/{page}" for host, pages in guides.items() for page in pages}


def test_the_config_in_the_new_form_asks_no_old_url(move_runs):
    asked = move_runs.rewritten.asked
    assert asked and not [p for _, p, _ in asked if p.startswith("/hexdocs.pm/")]
    assert {s for _, p, s in asked if p != "/robots.txt"} == {304}


# --- reading the history with either URL ----------------------------------------------------


@pytest.mark.parametrize("form", ["old", "new"])
@pytest.mark.parametrize("page", ["bindings.html", "bindings.md", "bindings.html#dom-patching"])
def test_history_lists_the_snapshots_from_before_and_after_the_move(move_runs, form, page):
    m = move_runs.mirror
    url = (m.old if form == "old" else m.new)("lumen_live", page)

    result = move_runs.project.cli("history", url)

    assert result.exit_code == 0, result.output
    title, header, *rows = result.stdout.splitlines()
    assert title.startswith(f"{m.new('lumen_live', 'bindings.html')} (docs)")
    assert header.split()[:2] == ["date", "run"]
    assert [row.split()[:2] for row in rows] == [[DAY_A.isoformat(), "1"],
                                                 [DAY_B.isoformat(), "2"]]
    assert rows[0].endswith("baseline") and "modified" in rows[1]


@pytest.mark.parametrize("form", ["old", "new"])
def test_show_at_a_date_before_the_move_prints_the_old_text(move_runs, form):
    m = move_runs.mirror
    url = (m.old if form == "old" else m.new)("lumen_live", "bindings.html")

    before = move_runs.project.cli("show", url, "--at", DAY_A.isoformat())
    latest = move_runs.project.cli("show", url)

    assert before.exit_code == 0 and latest.exit_code == 0, before.output + latest.output
    assert "needs a unique DOM id" in before.stdout
    assert "must have a unique and stable DOM id" not in before.stdout
    assert "must have a unique and stable DOM id" in latest.stdout


@pytest.mark.parametrize("form", ["old", "new"])
def test_diff_spans_the_move(move_runs, form):
    m = move_runs.mirror
    url = (m.old if form == "old" else m.new)("lumen_live", "bindings.html")

    result = move_runs.project.cli("diff", url, "--no-color")

    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0].startswith("--- ") and f"@ {DAY_A.isoformat()}" in out[0]
    assert out[1].startswith("+++ ") and f"@ {DAY_B.isoformat()}" in out[1]
    assert any(line.startswith("-") and "needs a unique DOM id" in line for line in out[2:])
    assert any(line.startswith("+") and "must have a unique and stable DOM id" in line
               for line in out[2:])


def test_an_unchanged_page_keeps_its_single_snapshot_across_the_move(move_runs):
    m = move_runs.mirror
    result = move_runs.project.cli("history", m.old("lumen", "routing.html"))

    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[2:]
    assert len(rows) == 1 and rows[0].startswith(DAY_A.isoformat())


# --- before the move: a skill already in the new form ---------------------------------------


def test_a_skill_watching_the_new_form_is_flagged_for_a_page_changed_under_the_old_url(
        mirror, tmp_path):
    project = Project(tmp_path, mirror)
    project.crawl(DAY_A)
    # The edit is published before the move: the page changes at its old URL.
    for name in ("bindings.md", "bindings.html"):
        shutil.copy(mirror.root / "B" / subdomain("lumen_live") / name,
                    mirror.root / "A" / "hexdocs.pm" / "lumen_live" / name)

    run = project.crawl(DAY_A + dt.timedelta(days=1))

    assert changes(run) == {("modified", mirror.old("lumen_live", "bindings.html"))}
    flagged = {s["name"]: s["reasons"] for s in run.data["skills"]}
    assert set(flagged) == {"old-watcher", "new-watcher"}
    assert [r["url"] for r in flagged["new-watcher"]] == [
        mirror.old("lumen_live", "bindings.html")]
    assert run.data["sources"][0]["moved"] == []


# --- release bumps: hex.pm names the docs in the new form, the skills watch the old ---------


HEXPM_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources" / "hexpm"


@pytest.mark.parametrize(("docs_form", "watch_form"), [("new", "old"), ("old", "new")])
def test_a_major_release_names_the_skill_watching_its_docs_in_the_other_form(
        tmp_path, docs_form, watch_form):
    # hex.pm's package document gives docs_html_url in one form (the subdomain one
    # since the move), the skill watches the package's docs in the other.
    site = tmp_path / "hexpm"
    (site / "v1").mkdir(parents=True)
    with DocServer(site, "v1") as srv:
        base = srv.base_url
        docs = {"old": f"{base}/hexdocs.pm/lantern/", "new": f"{base}/lantern.hexdocs.pm/"}
        for version in ("v1", "v2"):
            text = (HEXPM_FIXTURES / f"lantern-{version}.json").read_text()
            data = json.loads(text.replace("@BASE@", base))
            data["docs_html_url"] = docs[docs_form]
            target = site / version / "api" / "packages" / "lantern"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(data))
        watch = {"old": f"{base}/hexdocs.pm/lantern/*", "new": f"{base}/lantern.hexdocs.pm/*"}
        config_path = tmp_path / "sources.yaml"
        config_path.write_text(f"""
report:
  dir: out
http:
  attempts: 1
sources:
  - name: hex
    kind: hexpm
    api: {base}/api/packages/
    packages: [lantern]
skills:
  - name: lantern-usage
    watches: ["{watch[watch_form]}"]
  - name: lantern-web-usage
    watches: ["{base}/hexdocs.pm/lantern_web/*", "{base}/lantern-web.hexdocs.pm/*"]
""")
        config = load_config(config_path)
        db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        crawl(config, date=dt.date(2026, 6, 1), database=db)
        srv.set_version("v2")
        outcome = crawl(config, date=dt.date(2026, 6, 2), database=db)

    data = json.loads(outcome.report_paths[1].read_text())
    assert data["latest_stable"] == [
        {"package": "lantern", "from": "1.4.2", "to": "2.0.0", "bump": "major",
         "skills": ["lantern-usage"]}]
    flagged = {s["name"]: s["reasons"] for s in data["skills"]}
    assert list(flagged) == ["lantern-usage"]
    assert flagged["lantern-usage"][0]["why"] == \
        "major release of a package whose docs it watches"
