"""`docwatch sources [--check]` and the progress hooks, against a local server."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from conftest import write_config as write_demo_config

from crawler.cli import cli
from crawler.config import load_config
from crawler.demo.server import DocServer, Fault
from crawler.pipeline import Progress, crawl


def write_config(tmp_path, base: str):
    """The demo's sources.yaml, with a page source (one URL missing) and a hexpm source."""
    return write_demo_config(tmp_path, base, sources=f"""\
  - name: notes
    kind: page
    urls: [{base}/lumen/overview.html, {base}/nowhere.html]
  - name: releases
    kind: hexpm
    api: {base}/api/packages/
    packages: [lumen]
""")


def test_sources_lists_every_source_and_skill(tmp_path, site):
    result = CliRunner().invoke(cli, ["sources", "--config",
                                      str(write_config(tmp_path, site.base_url))])
    assert result.exit_code == 0, result.output
    assert "3 sources, 2 skills" in result.stdout
    assert "lumen-docs (exdoc): 2 URLs" in result.stdout
    assert f"{site.base_url}/api/packages/lumen" in result.stdout  # hexpm probes the API
    assert ("lumen-live [skills/lumen-live/SKILL.md]: 1 watches, keywords: lm-update, "
            "assign_async") in result.stdout
    assert "Check:" not in result.stdout  # no network without --check


def test_sources_check_says_which_urls_do_not_answer(tmp_path, site):
    site.set_fault("/lumen_live/", Fault(kind="status", status=503))
    result = CliRunner().invoke(cli, ["sources", "--check", "--config",
                                      str(write_config(tmp_path, site.base_url))])
    assert result.exit_code == 1
    assert "Check: 2 of 5 URLs answer" in result.stdout
    failures = [line for line in result.stderr.splitlines() if line.startswith("  FAIL")]
    assert len(failures) == 3
    assert any("lumen-docs:" in f and "/lumen_live/" in f and "HTTP 503" in f for f in failures)
    assert any("notes:" in f and "nowhere.html" in f and "HTTP 404" in f for f in failures)
    assert any("releases:" in f and "/api/packages/lumen" in f for f in failures)


def test_sources_check_of_one_source_only(tmp_path, site):
    result = CliRunner().invoke(cli, ["sources", "--check", "--source", "lumen-docs",
                                      "--config", str(write_config(tmp_path, site.base_url))])
    assert result.exit_code == 0, result.output
    assert "Check: 2 of 2 URLs answer" in result.stdout


def test_progress_hooks_see_every_page_of_every_source(tmp_path, site):
    class Recorded(Progress):
        def __init__(self):
            self.listed_pages, self.advanced_by, self.done = {}, {}, []

        def listed(self, source, pages):
            self.listed_pages[source] = self.listed_pages.get(source, 0) + pages

        def advanced(self, source):
            self.advanced_by[source] = self.advanced_by.get(source, 0) + 1

        def finished(self, source):
            self.done.append(source)

    progress = Recorded()
    config = load_config(write_config(tmp_path, site.base_url))
    crawl(config, date=dt.date(2024, 1, 1), sources=["lumen-docs"],
          database=f"sqlite:///{tmp_path / 'db.sqlite3'}", progress=progress)
    assert progress.listed_pages == {"lumen-docs": 8}
    assert progress.advanced_by == {"lumen-docs": 8}
    assert progress.done == ["lumen-docs"]


def test_a_failed_delivery_is_shown_but_the_run_succeeds(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with DocServer(version="v1") as site:
        path = tmp_path / "sources.yaml"
        path.write_text(f"""
email:
  send: always
  smtp_host: 127.0.0.1
  smtp_port: {closed_port}
  security: none
  to: [team@example.invalid]
sources:
  - name: docs
    kind: exdoc
    urls: [{site.base_url}/lumen/]
""")
        result = CliRunner().invoke(cli, ["crawl", "--config", str(path), "--date",
                                          "2024-01-01", "--db",
                                          f"sqlite:///{tmp_path / 'db.sqlite3'}"])
    assert result.exit_code == 0, result.output
    assert "warning: e-mail to team@example.invalid not sent" in result.stderr
    assert (tmp_path / "reports" / "2024-01-01-docwatch-research.md").is_file()


def test_a_crawl_without_network_says_what_failed_and_suggests_the_demo(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    path = tmp_path / "sources.yaml"
    # .invalid never resolves (RFC 2606): a DNS failure, as on a machine without network.
    path.write_text(f"""
http: {{attempts: 1}}
sources:
  - name: hexdocs
    kind: exdoc
    urls: [http://hexdocs.example.invalid/lumen/]
  - name: notes
    kind: page
    urls: [http://127.0.0.1:{closed_port}/notes.html]
""")
    result = CliRunner().invoke(cli, ["crawl", "--config", str(path), "--date", "2024-01-01",
                                      "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}"])

    assert result.exit_code == 1, result.output
    assert "error: no page could be fetched (network?)" in result.stderr
    assert "docwatch demo" in result.stderr
    md = (tmp_path / "reports" / "2024-01-01-docwatch-research.md").read_text()
    assert "could not resolve host hexdocs.example.invalid" in md
    assert f"connection refused by 127.0.0.1:{closed_port}" in md
    assert "disallowed by robots.txt" not in md and "baseline of" not in md
    nothing = "no page could be fetched; the baseline is recorded on the first run that fetches"
    assert f"**hexdocs**: {nothing}" in md and f"**notes**: {nothing}" in md


def test_sources_check_names_the_new_url_of_a_moved_root(tmp_path, site):
    # lumen_live now lives at the place lumen's docs are served from.
    site.set_fault("/lumen_live/", Fault(kind="redirect", status=301,
                                         location=f"{site.base_url}/lumen/"))
    result = CliRunner().invoke(cli, ["sources", "--check", "--config",
                                      str(write_config(tmp_path, site.base_url))])
    moved = [line for line in result.stdout.splitlines() if line.startswith("  MOVED")]
    assert moved == [f"  MOVED lumen-docs: {site.base_url}/lumen_live/ redirects permanently to "
                     f"{site.base_url}/lumen/: put that URL in {tmp_path / 'sources.yaml'}"]
