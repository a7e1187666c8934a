"""sources.yaml loading: every mistake names the file, the line and the field.

Each test writes one small sources.yaml, loads it, and checks the problem a user
would read: ``<file>:<line>: <field>: <message>``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import run_cli_measured

from crawler.cli import cli
from crawler.config import ConfigError, load_config
from crawler.sources import SOURCE_KINDS
from crawler.sources.exdoc import ExdocConfig


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in an empty folder, so problems name the config file as the user typed it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOCWATCH_DATABASE_URL", raising=False)
    return tmp_path


def problems_in(text: str, name: str = "sources.yaml") -> list[str]:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(name)
    return raised.value.problems


def only_problem(text: str) -> str:
    found = problems_in(text)
    assert len(found) == 1, found
    return found[0]


def expected_kinds(problem: str) -> set[str]:
    """The kinds a problem lists after "expected one of:"."""
    assert "(expected one of: " in problem, problem
    listed = problem.split("(expected one of: ", 1)[1].rstrip(")")
    return set(listed.split(", "))


# --- YAML itself -------------------------------------------------------------------------


def test_yaml_syntax_error_names_the_line_of_the_problem():
    problem = only_problem(
        "sources:\n"
        "  - name: quill\n"
        "    kind: exdoc\n"
        "   urls: [https://example.invalid/quill/]\n"  # one space short
    )
    assert problem.startswith("sources.yaml:4: YAML syntax error: ")


def test_unclosed_bracket_points_at_the_line_that_opened_it():
    problem = only_problem(
        "sources:\n"
        "  - name: quill\n"
        "    kind: exdoc\n"
        "    urls: [https://example.invalid/quill/\n"  # missing ']'
        "skills:\n"
        "  - name: retries\n"
    )
    assert problem == ("sources.yaml:4: YAML syntax error: expected ',' or ']', but got ':' "
                       "(while parsing a flow sequence on line 4, still open on line 5)")


def test_duplicate_yaml_key_is_an_error_not_a_silent_override():
    problem = only_problem(
        "sources:\n"
        "  - name: quill\n"
        "    kind: exdoc\n"
        "    urls: [https://example.invalid/quill/]\n"
        "    urls: [https://example.invalid/quill_live/]\n"
    )
    assert problem == "sources.yaml:5: sources[0].urls: duplicate key"


def test_top_level_list_instead_of_mapping():
    problem = only_problem("- name: quill\n  kind: exdoc\n")
    assert problem.startswith("sources.yaml:1: (top level): ")
    assert "expected a mapping" in problem


@pytest.mark.parametrize("text", ["", "# nothing to watch yet\n"], ids=["empty", "comment-only"])
def test_empty_file_loads_as_defaults_with_nothing_to_crawl(text: str):
    Path("sources.yaml").write_text(text, encoding="utf-8")
    config = load_config("sources.yaml")
    assert config.typed_sources == []
    assert config.skills == []
    assert config.http.concurrency == 16


def test_missing_file():
    with pytest.raises(ConfigError) as raised:
        load_config("nosuch.yaml")
    assert raised.value.problems == ["nosuch.yaml: file not found"]


# --- sources -----------------------------------------------------------------------------


def test_urls_given_as_a_number():
    problem = only_problem(
        "sources:\n"
        "  - name: quill\n"
        "    kind: exdoc\n"
        "    urls: 5\n"
    )
    assert problem.startswith("sources.yaml:4: sources[0].urls: ")
    assert "valid list" in problem


def test_unknown_kind_lists_the_expected_kinds():
    problem = only_problem(
        "sources:\n"
        "  - name: quill\n"
        "    kind: exdoc\n"
        "    urls: [https://example.invalid/quill/]\n"
        "  - name: forum\n"
        "    kind: rss\n"
    )
    assert problem.startswith("sources.yaml:6: sources[1].kind: ")
    assert "unknown source kind 'rss'" in problem
    assert expected_kinds(problem) == set(SOURCE_KINDS) >= {"exdoc"}


def test_missing_kind_points_at_the_source_entry():
    problem = only_problem(
        "sources:\n"
        "  - name: quill\n"
        "    urls: [https://example.invalid/quill/]\n"
    )
    assert problem.startswith("sources.yaml:2: sources[0].kind: ")
    assert "required field is missing" in problem
    assert expected_kinds(problem) == set(SOURCE_KINDS) >= {"exdoc"}


@pytest.mark.parametrize("url", ["ftp://x", "not a url"])
def test_url_that_is_not_http(url: str):
    problem = only_problem(
        "sources:\n"
        "  - name: quill\n"
        "    kind: exdoc\n"
        f"    urls: [{url}]\n"
    )
    assert problem.startswith("sources.yaml:4: sources[0].urls[0]: ")
    assert f"not an absolute http(s) URL: {url!r}" in problem


def test_duplicate_source_name_names_the_first_line():
    problem = only_problem(
        "sources:\n"
        "  - name: quill\n"
        "    kind: exdoc\n"
        "    urls: [https://example.invalid/quill/]\n"
        "  - name: quill_live\n"
        "    kind: exdoc\n"
        "    urls: [https://example.invalid/quill_live/]\n"
        "  - kind: exdoc\n"
        "    name: quill\n"
    )
    assert problem.startswith("sources.yaml:9: sources[2].name: ")
    assert "duplicate source name 'quill' (first on line 2)" in problem


def test_misspelt_field_is_reported_as_unknown():
    problem = only_problem(
        "sources:\n"
        "  - name: quill\n"
        "    kind: exdoc\n"
        "    url: [https://example.invalid/quill/]\n"
    )
    assert problem == "sources.yaml:4: sources[0].url: unknown field"


# --- skills and http ---------------------------------------------------------------------


def test_keywords_given_as_a_string_is_rejected_not_split_into_letters():
    problem = only_problem(
        "skills:\n"
        "  - name: retries\n"
        "    keywords: max_attempts\n"
    )
    assert problem.startswith("sources.yaml:3: skills[0].keywords: ")
    assert "valid list" in problem


def test_bad_glob_in_watches():
    problem = only_problem(
        "skills:\n"
        "  - name: retries\n"
        '    watches: ["https://example.invalid/quill/[abc"]\n'
    )
    assert problem.startswith("sources.yaml:3: skills[0].watches[0]: ")
    assert "bad glob 'https://example.invalid/quill/[abc'" in problem
    assert "unbalanced '['" in problem


def test_skill_file_is_looked_up_next_to_the_config_not_in_the_working_folder():
    # The file exists relative to the working folder, but not relative to conf/.
    Path("skills").mkdir()
    Path("skills/retries.md").write_text("# Retries\n", encoding="utf-8")
    found = problems_in(
        "skills:\n"
        "  - name: retries\n"
        "    path: skills/retries.md\n",
        name="conf/sources.yaml",
    )
    assert found == ["conf/sources.yaml:3: skills[0].path: skill file not found: "
                     "conf/skills/retries.md"]


def test_negative_http_concurrency():
    problem = only_problem(
        "http:\n"
        "  per_host: 2\n"
        "  concurrency: -1\n"
    )
    assert problem.startswith("sources.yaml:3: http.concurrency: ")
    assert "greater than or equal to 1" in problem


def test_every_problem_in_sources_and_skills_is_reported_at_once():
    found = problems_in(
        "sources:\n"
        "  - name: forum\n"
        "    kind: rss\n"
        "  - name: quill\n"
        "    kind: exdoc\n"
        "    urls: [ftp://x]\n"
        "skills:\n"
        "  - name: retries\n"
        "    path: retries.md\n"
    )
    assert [p.split(": ")[0:2] for p in found] == [
        ["sources.yaml:3", "sources[0].kind"],
        ["sources.yaml:6", "sources[1].urls[0]"],
        ["sources.yaml:9", "skills[0].path"],
    ]


# --- a valid config ----------------------------------------------------------------------


def test_valid_config_is_typed_and_paths_are_relative_to_its_folder(tmp_path: Path):
    project = tmp_path / "project"
    (project / "skills").mkdir(parents=True)
    (project / "skills" / "retries.md").write_text("# Retries\n", encoding="utf-8")
    config_file = project / "sources.yaml"
    config_file.write_text(
        "report:\n"
        "  dir: out/reports\n"
        "sources:\n"
        "  - name: quill\n"
        "    kind: exdoc\n"
        "    urls:\n"
        "      - https://example.invalid/quill\n"
        "      - https://example.invalid/quill_live/\n"
        "    exclude: [changelog]\n"
        "skills:\n"
        "  - name: retries\n"
        "    path: skills/retries.md\n"
        '    watches: ["https://example.invalid/quill/*"]\n'
        "    keywords: [max_attempts]\n",
        encoding="utf-8",
    )

    config = load_config(config_file)

    [source] = config.typed_sources
    assert isinstance(source, ExdocConfig)
    assert config.source("quill") is source
    assert source.urls == ["https://example.invalid/quill/",
                           "https://example.invalid/quill_live/"]
    assert source.exclude == ["changelog"]
    [skill] = config.skills
    assert config.skill_path(skill) == project / "skills" / "retries.md"
    assert skill.watches_url("https://example.invalid/quill/retrying.html") == \
        "https://example.invalid/quill/*"
    assert config.report_dir == project / "out" / "reports"


# --- the command line --------------------------------------------------------------------


def test_cli_config_error_exits_2_and_leaves_the_database_alone(in_tmp: Path):
    Path("bad.yaml").write_text(
        "sources:\n"
        "  - name: quill\n"
        "    kind: rss\n",
        encoding="utf-8",
    )
    db = in_tmp / "db" / "x.sqlite3"

    result = CliRunner().invoke(cli, ["crawl", "--config", "bad.yaml", "--db", f"sqlite:///{db}"])

    assert result.exit_code == 2
    assert result.stderr.startswith("error: bad.yaml:3: sources[0].kind: unknown source kind")
    assert not db.exists()
    assert not db.parent.exists()


def test_cli_unknown_source_exits_2_naming_it_and_creates_no_database(in_tmp: Path):
    Path("sources.yaml").write_text(
        "sources:\n"
        "  - name: quill\n"
        "    kind: exdoc\n"
        "    urls: [https://example.invalid/quill/]\n",
        encoding="utf-8",
    )
    db = in_tmp / "db" / "x.sqlite3"

    result = CliRunner().invoke(cli, ["crawl", "--config", "sources.yaml", "--source", "nosuch",
                                      "--db", f"sqlite:///{db}"])

    assert result.exit_code == 2
    assert "error: sources.yaml: no source named 'nosuch'" in result.stderr
    assert "(configured: quill)" in result.stderr
    assert not db.parent.exists()
    assert not (in_tmp / "reports").exists()


# --- what can be checked is checked when the file is read (not mid-run) ---------------------

PAGE_SOURCE = ("sources:\n"
               "  - name: news\n"
               "    kind: page\n"
               "    urls: [https://example.invalid/news.html]\n")


def test_an_invalid_css_selector_is_refused_at_load_time_with_its_line():
    problem = only_problem(PAGE_SOURCE + "    select: 'main >'\n")
    assert problem == ("sources.yaml:5: sources[0].select: invalid CSS selector 'main >': "
                       "Can't parse CSS selector.")


def test_a_feed_selector_is_checked_too():
    problem = only_problem("sources:\n  - name: blog\n    kind: feed\n"
                           "    urls: [https://example.invalid/feed.xml]\n"
                           "    select: 'article,'\n")
    assert problem == ("sources.yaml:5: sources[0].select: empty part in CSS selector "
                       "'article,'")


@pytest.mark.parametrize(("source", "field", "line"), [
    ("  - name: docs\n    kind: exdoc\n    urls: []\n", "urls", 4),
    ("  - name: docs\n    kind: exdoc\n", "urls", 2),
    ("  - name: hex\n    kind: hexpm\n    packages: []\n", "packages", 4),
])
def test_a_source_with_nothing_to_crawl_is_refused(source, field, line):
    problem = only_problem("sources:\n" + source)
    assert problem == f"sources.yaml:{line}: sources[0].{field}: nothing to crawl (empty)"


def test_a_report_dir_that_is_a_file_is_refused(in_tmp):
    (in_tmp / "reports").write_text("not a folder")
    problem = only_problem(PAGE_SOURCE + "report:\n  dir: reports\n")
    assert problem == "sources.yaml:6: report.dir: reports is a file, not a folder"


@pytest.mark.parametrize("folder", ["reports/2026", "reports/a/b"])
def test_a_report_dir_inside_a_file_is_refused_before_the_crawl(in_tmp, folder):
    (in_tmp / "reports").write_text("not a folder")
    Path("sources.yaml").write_text(PAGE_SOURCE + f"report:\n  dir: {folder}\n")
    db = in_tmp / "db.sqlite3"

    result = CliRunner().invoke(cli, ["crawl", "--db", f"sqlite:///{db}"])

    assert result.exit_code == 2 and not db.exists()
    assert result.stderr == (f"error: sources.yaml:6: report.dir: {folder} cannot be made: "
                             "reports is a file, not a folder\n")


def test_a_key_that_is_not_a_plain_value_is_a_config_error_not_a_traceback():
    problem = only_problem("sources:\n  - ? [a, b]\n    : 1\n")
    assert problem == "sources.yaml:2: sources[0]: a key must be a plain value, not a list"


def alias_bomb(levels: int) -> str:
    """YAML of ``levels`` anchors, each a list of nine aliases of the one before: 9**levels
    values once expanded, in a few hundred bytes."""
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for n in range(1, levels):
        level, previous = chr(ord("a") + n), chr(ord("a") + n - 1)
        bomb += f"{level}: &{level} [{', '.join(['*' + previous] * 9)}]\n"
    return bomb


def test_an_alias_bomb_is_refused_quickly():
    problem = only_problem(alias_bomb(9) + PAGE_SOURCE)
    assert problem.startswith("sources.yaml:")
    assert problem.endswith("more than 200,000 values once its aliases are expanded "
                            "(an alias bomb?)")


def test_an_alias_bomb_costs_docwatch_crawl_no_memory_to_speak_of(tmp_path):
    # Ten levels, 531 bytes: 3.5 billion values expanded. It took 1.3 GB before the
    # expansion was bounded (and nine levels never finished).
    config = tmp_path / "sources.yaml"
    config.write_text(alias_bomb(10) + PAGE_SOURCE, encoding="utf-8")
    done = run_cli_measured(tmp_path, "crawl", "--config", str(config), "--db",
                            f"sqlite:///{tmp_path / 'db.sqlite3'}")

    assert done.returncode == 2
    assert "(an alias bomb?)" in done.stderr and len(done.stderr.splitlines()) == 1
    assert 0 < done.peak_mb < 200, f"peak RSS {done.peak_mb} MB"
    assert not (tmp_path / "db.sqlite3").exists()


def test_a_skill_file_that_is_not_utf8_is_refused_at_load_time(in_tmp):
    skill = in_tmp / "skills" / "legacy" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_bytes(b"---\nname: legacy\n---\nCaf\xe9 au lait\n")
    problem = only_problem(PAGE_SOURCE + "skills:\n  - name: legacy\n"
                           "    path: skills/legacy/SKILL.md\n")
    assert problem.startswith("sources.yaml:7: skills[0].path: skill file "
                              "skills/legacy/SKILL.md cannot be read as UTF-8 text: ")


@pytest.mark.parametrize("text", ["skills: []\n", "", "# nothing yet\n"])
def test_crawling_a_configuration_without_sources_is_refused(in_tmp, text):
    Path("sources.yaml").write_text(text)
    result = CliRunner().invoke(cli, ["crawl", "--db", f"sqlite:///{in_tmp}/db.sqlite3"])
    assert result.exit_code == 2
    assert "sources.yaml: sources: no source is configured" in result.output
    assert not (in_tmp / "db.sqlite3").exists()


# --- the schedule, read when the file is read ---------------------------------------------

SOURCE = "sources:\n  - {name: docs, kind: page, urls: ['https://example.com/']}\n"


@pytest.mark.parametrize(("schedule", "line", "says"), [
    ("schedule:\n  cron: '61 3 * * *'\n", 5, "schedule.cron: invalid cron expression '61 3 * * *'"),
    ("schedule:\n  cron: '0 3 * *'\n", 5, "expected 5 fields"),
    ("schedule:\n  timezone: Europe/Pariss\n", 5, "schedule.timezone: unknown time zone"),
    ("schedule:\n  cron: '0 0 30 2 *'\n", 5, "never fires"),
])
def test_a_schedule_that_cannot_run_is_refused_when_the_file_is_read(schedule, line, says):
    [problem] = problems_in(SOURCE + "\n" + schedule)

    assert problem.startswith(f"sources.yaml:{line}: ") and says in problem, problem


def test_a_sources_own_schedule_is_read_too_and_a_good_one_loads():
    [problem] = problems_in("sources:\n  - {name: docs, kind: page, schedule: '0 99 * * *',"
                            " urls: ['https://example.com/']}\n")
    assert problem.startswith("sources.yaml:2: sources[0].schedule: invalid cron expression")
    Path("good.yaml").write_text(SOURCE + "schedule:\n  cron: '@daily'\n  timezone: UTC\n")
    assert load_config("good.yaml").schedule.cron == "@daily"


def test_crawl_refuses_a_config_whose_schedule_cannot_run(in_tmp: Path):
    Path("sources.yaml").write_text(SOURCE + "schedule:\n  cron: 'every night'\n",
                                    encoding="utf-8")
    db = in_tmp / "x.sqlite3"

    result = CliRunner().invoke(cli, ["crawl", "--db", f"sqlite:///{db}"])

    assert result.exit_code == 2 and "schedule.cron" in result.stderr and not db.exists()


@pytest.mark.parametrize(("value", "says"), [
    ("0", "greater than or equal to 1"), ("lots", "valid integer")])
def test_a_feed_max_entries_per_run_must_be_a_positive_count(value, says):
    problem = only_problem("sources:\n  - name: blog\n    kind: feed\n"
                           "    urls: [https://example.invalid/feed.xml]\n"
                           f"    max_entries_per_run: {value}\n")
    assert problem.startswith("sources.yaml:5: sources[0].max_entries_per_run: ")
    assert says in problem
