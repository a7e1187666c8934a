"""``docwatch demo``, ``docwatch init`` and ``crawl --log-json``, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import load_config
from crawler.demo.server import DocServer

# -- demo -----------------------------------------------------------------------------


def test_demo_crawls_both_versions_and_writes_the_reports(tmp_path):
    target = tmp_path / "demo"

    result = CliRunner().invoke(cli, ["demo", "--dir", str(target)])

    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0] == f"demo project: {target}"
    reports = [Path(line) for line in out if line.endswith((".md", ".json"))]
    assert [p.name for p in reports if p.suffix == ".md"] == [
        "2024-01-01-lumen-docs-research.md", "2024-02-01-lumen-docs-research.md"]
    assert all(p.is_file() for p in reports)
    assert out[-3:] == [
        "run 1 (2024-01-01, site v1): baseline of 8 pages recorded",
        "run 2 (2024-02-01, site v2): 9 pages checked, 2 new, 1 removed, 4 modified, 0 errors",
        "skills to update: lumen-live, lumen-routing; new pages no skill covers: JSON APIs",
    ]
    v2 = (target / "reports" / "2024-02-01-lumen-docs-research.md").read_text()
    assert "[JSON APIs](<http://127.0.0.1:" in v2 and "/lumen/json_apis.html>)" in v2
    assert "- **lumen-live** (`skills/lumen-live/SKILL.md`)" in v2
    # What the demo leaves behind is a project the other commands can read.
    assert load_config(target / "sources.yaml").skills[0].name == "lumen-live"
    runs = CliRunner().invoke(cli, ["runs", "--db", f"sqlite:///{target / 'docwatch.sqlite3'}"])
    assert [line.split()[0] for line in runs.stdout.splitlines()[1:]] == ["2", "1"]


def test_demo_can_run_again_in_its_own_directory(tmp_path):
    target = tmp_path / "demo"
    CliRunner().invoke(cli, ["demo", "--dir", str(target)])

    again = CliRunner().invoke(cli, ["demo", "--dir", str(target)])

    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-3].startswith("run 1 (2024-01-01, site v1): baseline")


def test_demo_refuses_a_directory_with_other_files(tmp_path):
    (tmp_path / "sources.yaml").write_text("mine\n")

    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path)])

    assert result.exit_code == 2
    assert "is not empty" in result.stderr
    assert (tmp_path / "sources.yaml").read_text() == "mine\n"
    assert not (tmp_path / "docwatch.sqlite3").exists()


def test_demo_without_dir_uses_a_new_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)

    result = CliRunner().invoke(cli, ["demo"])

    assert result.exit_code == 0, result.output
    created = Path(result.stdout.splitlines()[0].removeprefix("demo project: "))
    assert created.parent == tmp_path and created.name.startswith("docwatch-demo-")
    assert (created / "reports" / "2024-02-01-lumen-docs-research.md").is_file()


# -- init -----------------------------------------------------------------------------


def test_init_writes_a_starter_config_that_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(cli, ["init"])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["wrote sources.yaml", "wrote skills/example/SKILL.md"]
    config = load_config(tmp_path / "sources.yaml")
    assert [s.kind for s in config.typed_sources] == ["exdoc", "hexpm", "feed"]
    assert [s.name for s in config.skills] == ["example"]
    assert config.skill_path(config.skills[0]).read_text().startswith("---\nname: example\n")
    assert (tmp_path / "sources.yaml").read_text().startswith("# docwatch configuration")


def test_init_does_not_overwrite_without_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    runner.invoke(cli, ["init"])
    (tmp_path / "sources.yaml").write_text("# my edits\n")

    second = runner.invoke(cli, ["init"])

    assert second.exit_code == 2
    assert "sources.yaml, skills/example/SKILL.md already exist" in second.stderr
    assert "--force" in second.stderr
    assert (tmp_path / "sources.yaml").read_text() == "# my edits\n"

    forced = runner.invoke(cli, ["init", "--force"])

    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "sources.yaml").read_text().startswith("# docwatch configuration")


def test_init_refuses_when_only_the_skill_exists(tmp_path):
    skill = tmp_path / "skills" / "example" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_text("mine\n")

    result = CliRunner().invoke(cli, ["init", "--dir", str(tmp_path)])

    assert result.exit_code == 2
    assert not (tmp_path / "sources.yaml").exists()
    assert skill.read_text() == "mine\n"


# -- crawl --log-json -----------------------------------------------------------------


def test_crawl_log_json_writes_one_json_object_per_stderr_line(tmp_path):
    with DocServer(version="v1") as server:
        config = tmp_path / "sources.yaml"
        config.write_text(f"report: {{title: T, dir: out}}\nsources:\n"
                          f"  - {{name: docs, kind: exdoc, urls: ['{server.base_url}/lumen/']}}\n")
        done = subprocess.run(
            [sys.executable, "-m", "crawler", "crawl", "--config", str(config), "--db",
             f"sqlite:///{tmp_path / 'db.sqlite3'}", "--date", "2024-01-01", "-v", "--log-json"],
            capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["logger"] == "crawler.pipeline" and r["message"].startswith("run 1 started")
               for r in records)
    summary = records[-1]
    assert summary["message"] == "run 1 completed: 5 pages checked, 0 changed, 0 errors"
    assert (summary["status"], summary["pages_checked"]) == ("completed", 5)
    assert done.stdout.splitlines()[0].endswith("out/2024-01-01-t.md")


def test_crawl_log_json_reports_config_errors_as_json(tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text("sources:\n  - name: x\n    kind: rss\n")

    result = CliRunner().invoke(cli, ["crawl", "--config", str(config), "--log-json"])

    assert result.exit_code == 2
    record = json.loads(result.stderr)
    assert record["level"] == "error"
    assert "unknown source kind 'rss'" in record["message"]
