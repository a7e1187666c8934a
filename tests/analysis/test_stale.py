"""Stale skill lines: which lines of a SKILL.md teach what the docs deprecated or dropped.

The end-to-end tests serve a tiny ExDoc-shaped package ("glimmer", written below) from
127.0.0.1 in two versions, crawl it into a real SQLite database through the real
pipeline and read the reports a user reads.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from crawler.analysis.findings import Evidence, Finding, docs_findings
from crawler.analysis.owners import Namespaces
from crawler.analysis.queries import docs_facts
from crawler.analysis.skill_files import SkillFile, read_skill_files, skill_lines
from crawler.analysis.stale import check_skills, describe, stale_lines
from crawler.config import load_config
from crawler.demo.server import DocServer
from crawler.notices import ArgKind, Shape
from crawler.pipeline import crawl
from crawler.store.db import open_database
from crawler.types import NoticeKind, TermKind
from crawler.vocab import Term

FIXTURES = Path(__file__).parents[1] / "fixtures" / "skills"
SKILL = FIXTURES / "glimmer-effects" / "SKILL.md"
DAY1, DAY2, DAY3 = dt.date(2025, 3, 1), dt.date(2025, 3, 2), dt.date(2025, 3, 3)

# -- skill_lines / stale_lines ---------------------------------------------------------


def test_skill_lines_skip_front_matter_and_keep_file_line_numbers():
    lines = skill_lines(SKILL)

    assert lines[0] == (5, "# Glimmer effects")
    assert (7, 'Light up an element with `<div phx-glow="on">`.') in lines
    assert all(number > 4 for number, _ in lines)  # "description: ... phx-glow" is skipped


def test_skill_lines_without_front_matter_start_at_line_one(tmp_path):
    path = tmp_path / "SKILL.md"
    path.write_text("# Plain\n---\nUse phx-glow.\n")

    assert skill_lines(path) == [(1, "# Plain"), (2, "---"), (3, "Use phx-glow.")]


def finding(text, kind, how="deprecated", replacement=None):
    return Finding(Term(text, TermKind(kind)), NoticeKind(how),
                   Evidence("http://docs.test/changelog.html", "v2.0.0 › Deprecations", "…"),
                   replacement)


def test_stale_lines_flag_each_line_using_a_retired_term():
    lines = [(7, "Glow with `phx-glow`."), (8, "Then `Glimmer.old_fun(a, b)`."),
             (9, "Use phx-glowing-border for borders."), (10, "Glimmer.old_fun_two(a)")]
    findings = [finding("phx-glow", "attribute", "removed"),
                finding("Glimmer.old_fun/2", "function", replacement="Glimmer.new_fun/2")]

    stale = stale_lines(lines, findings)

    assert [(s.line, s.term, s.kind, s.replacement) for s in stale] == [
        (7, "phx-glow", "removed", None),
        (8, "Glimmer.old_fun/2", "deprecated", "Glimmer.new_fun/2")]
    assert describe(stale[1]) == "Glimmer.old_fun/2 is deprecated; use Glimmer.new_fun/2"


# -- a tiny ExDoc-shaped package, served in two versions -------------------------------

SIDEBAR = ('sidebarNodes={"extras":['
           '{"id":"overview","title":"Overview","group":""},'
           '{"id":"effects","title":"Effects","group":"Guides"},'
           '{"id":"changelog","title":"Changelog","group":""}],'
           '"modules":[],"tasks":[]}')

OVERVIEW = """<h1>Overview</h1>
<p>Glimmer adds light effects to server-rendered pages.</p>"""

EFFECTS_V1 = """<h1>Effects</h1>
<h2 id="glowing">Glowing</h2>
<p>Add <code class="inline">phx-glow="on"</code> to any element to make it glow.</p>
<h2 id="shimmer">Shimmer</h2>
<p>The <code class="inline">phx-shimmer</code> attribute makes text shimmer.</p>
<h2 id="sparkle">Sparkle</h2>
<p>Call <code class="inline">Glimmer.old_fun/2</code> with a color and a strength.</p>"""

# v2 never mentions phx-glow again; phx-shimmer only survives inside a code block.
EFFECTS_V2 = """<h1>Effects</h1>
<h2 id="shimmer">Shimmer</h2>
<p>Make text shimmer:</p>
<pre><code class="makeup html">&lt;span phx-shimmer&gt;Hello&lt;/span&gt;</code></pre>
<h2 id="sparkle">Sparkle</h2>
<p>Call <code class="inline">Glimmer.new_fun/2</code> with a color and a strength.</p>"""

CHANGELOG_V1 = """<h1>Changelog</h1>
<h2 id="v1-0-0">v1.0.0</h2>
<h3 id="enhancements">Enhancements</h3>
<ul><li>First release.</li></ul>"""

CHANGELOG_V2 = """<h1>Changelog</h1>
<h2 id="v2-0-0">v2.0.0</h2>
<h3 id="deprecations">Deprecations</h3>
<ul><li><code class="inline">Glimmer.old_fun/2</code> is deprecated in favor of
<code class="inline">Glimmer.new_fun/2</code>.</li></ul>
<h2 id="v1-0-0">v1.0.0</h2>
<h3 id="enhancements">Enhancements</h3>
<ul><li>First release.</li></ul>"""

VERSIONS = {
    "v1": {"overview": OVERVIEW, "effects": EFFECTS_V1, "changelog": CHANGELOG_V1},
    "v2": {"overview": OVERVIEW, "effects": EFFECTS_V2, "changelog": CHANGELOG_V2},
}


def page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} — Glimmer</title>
<script src="dist/sidebar_items-ABC.js"></script>
</head>
<body>
<nav class="sidebar">Glimmer</nav>
<main class="content"><div id="content">
<div id="top-content">
{body}
</div>
<footer class="footer">Built using ExDoc</footer>
</div></main>
</body>
</html>
"""


def write_site(root: Path, versions: dict[str, dict[str, str]] = VERSIONS) -> None:
    for version, pages in versions.items():
        package = root / version / "glimmer"
        (package / "dist").mkdir(parents=True)
        (package / "index.html").write_text(
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta http-equiv="refresh" content="0; url=overview.html"></head>'
            "<body></body></html>\n")
        (package / "dist" / "sidebar_items-ABC.js").write_text(SIDEBAR)
        for page_id, body in pages.items():
            (package / f"{page_id}.html").write_text(page(page_id.title(), body))


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """Crawl v1 (day 1), v2 (day 2) and v2 again (day 3, nothing changed) once."""
    tmp_path = tmp_path_factory.mktemp("glimmer")
    write_site(tmp_path / "site")
    skill = tmp_path / "skills" / "glimmer-effects" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    shutil.copy(SKILL, skill)
    with DocServer(root=tmp_path / "site", version="v1") as site:
        path = tmp_path / "sources.yaml"
        path.write_text(f"""
report:
  title: "Glimmer Watch"
  dir: out
sources:
  - name: docs
    kind: exdoc
    urls: [{site.base_url}/glimmer/]
skills:
  - name: glimmer-effects
    path: skills/glimmer-effects/SKILL.md
    keywords: [Glimmer.Palette]
  - name: fileless
    watches: ["{site.base_url}/glimmer/effects.html"]
    keywords: [phx-glow]
""")
        config = load_config(path)
        database = f"sqlite:///{tmp_path}/db.sqlite3"
        reports = {}
        for date, version in [(DAY1, "v1"), (DAY2, "v2"), (DAY3, "v2")]:
            site.set_version(version)
            outcome = crawl(config, date=date, database=database)
            assert outcome.status == "completed" and outcome.errors == 0
            md, js = outcome.report_paths[:2]
            reports[date] = (md.read_text(encoding="utf-8"),
                             json.loads(js.read_text(encoding="utf-8")))
        engine = open_database(database)
        yield {"base": f"{site.base_url}/glimmer", "config": config, "engine": engine,
               "reports": reports}
        engine.dispose()


def skill_entry(data, name):
    return next((s for s in data["skills"] if s["name"] == name), None)


# -- end to end --------------------------------------------------------------------------


def test_nothing_is_stale_while_the_docs_still_teach_it(crawled):
    _, data = crawled["reports"][DAY1]

    assert skill_entry(data, "glimmer-effects") is None


def test_report_lists_the_stale_lines_of_a_skill_with_evidence(crawled):
    md, data = crawled["reports"][DAY2]
    base = crawled["base"]

    skill = skill_entry(data, "glimmer-effects")
    assert skill is not None
    stale = skill["stale_lines"]
    # Line 3 (front matter) mentions phx-glow too, and lines 9-10 are still valid.
    assert [(s["line"], s["text"], s["term"], s["kind"], s["replacement"]) for s in stale] == [
        (7, 'Light up an element with `<div phx-glow="on">`.', "phx-glow", "removed", None),
        (8, "Compute the sparkle with `Glimmer.old_fun(a, b)`.", "Glimmer.old_fun/2",
         "deprecated", "Glimmer.new_fun/2")]
    # phx-glow: gone from every page, last taught in the "Glowing" section of Effects.
    assert (stale[0]["evidence"]["url"], stale[0]["evidence"]["section"]) == (
        f"{base}/effects.html", "Glowing")
    assert "phx-glow is no longer mentioned" in stale[0]["evidence"]["sentence"]
    # Glimmer.old_fun/2: announced by the changelog.
    assert (stale[1]["evidence"]["url"], stale[1]["evidence"]["section"]) == (
        f"{base}/changelog.html", "v2.0.0 › Deprecations")
    assert stale[1]["evidence"]["sentence"].endswith(
        "`Glimmer.old_fun/2` is deprecated in favor of `Glimmer.new_fun/2`.")

    assert [a.split(":")[0] for a in skill["actions"][:2]] == ["Update line 7",
                                                               "Update line 8"]
    assert "Glimmer.new_fun/2" in skill["actions"][1]

    section = md.split("## Skills needing updates", 1)[1].split("## Skill gaps", 1)[0]
    assert "glimmer-effects" in section and "Stale lines" in section
    assert "line 7:" in section and "line 8:" in section
    assert "line 9:" not in section and "line 10:" not in section


def test_attribute_kept_in_a_code_block_of_current_docs_is_not_removed(crawled):
    found = {f.term.text: f.kind for f in docs_findings(docs_facts(crawled["engine"]))}

    # phx-shimmer left the prose of v2 but is still in its code example.
    assert found == {"phx-glow": "removed", "Glimmer.old_fun/2": "deprecated"}


def test_skill_without_a_file_is_skipped(crawled):
    _, data = crawled["reports"][DAY2]

    stale = check_skills(read_skill_files(crawled["config"]),
                         docs_findings(docs_facts(crawled["engine"])))
    assert set(stale) == {"glimmer-effects"}
    # Flagged by its watch, but with no file there is no line to point at.
    fileless = skill_entry(data, "fileless")
    assert fileless is not None and fileless["stale_lines"] == []


def test_stale_lines_are_reported_even_when_nothing_changed(crawled):
    md, data = crawled["reports"][DAY3]

    assert data["changes"] == []
    skill = skill_entry(data, "glimmer-effects")
    assert skill is not None
    assert [(s["line"], s["term"]) for s in skill["stale_lines"]] == [
        (7, "phx-glow"), (8, "Glimmer.old_fun/2")]
    assert skill["actions"][0].startswith("Update line 7")
    assert "Stale lines" in md and "line 7:" in md


def _last_taught(folder, v1: dict[str, str]):
    """The finding of a term that the pages of ``v1`` teach and v2 no longer does."""
    v2 = {page: f"<h1>{page.title()}</h1>\n<p>Nothing to see.</p>"
          for page in ("effects", "changelog")} | {"overview": OVERVIEW}
    write_site(folder / "site", {"v1": v2 | v1, "v2": v2})
    with DocServer(root=folder / "site", version="v1") as site:
        path = folder / "sources.yaml"
        path.write_text(f"sources:\n  - name: docs\n    kind: exdoc\n"
                        f"    urls: [{site.base_url}/glimmer/]\n")
        database = f"sqlite:///{folder}/db.sqlite3"
        for date, version in [(DAY1, "v1"), (DAY2, "v2")]:
            site.set_version(version)
            assert crawl(load_config(path), date=date, database=database).errors == 0
        engine = open_database(database)
        try:
            [finding] = docs_findings(docs_facts(engine))
        finally:
            engine.dispose()
    assert (finding.term.text, finding.kind) == ("phx-glow", NoticeKind.REMOVED)
    return site.base_url, finding


def test_a_term_several_pages_stopped_teaching_cites_the_first_of_them_by_url(tmp_path):
    # Both pages teach phx-glow in v1, neither in v2: which one the report cites must not
    # depend on which of them happened to be fetched last.
    taught = ('<h1>{0}</h1>\n<h2 id="glow">Glow</h2>\n'
              '<p>Use <code class="inline">phx-glow</code>.</p>')
    base, finding = _last_taught(tmp_path, {"overview": taught.format("Overview"),
                                            "effects": taught.format("Effects")})

    assert (finding.evidence.url, finding.evidence.section) == (
        f"{base}/glimmer/effects.html", "Glow")


GLOW_TWICE = ('<h1>Glowing</h1>\n<h2 id="glow">Glowing</h2>\n'
              '<p>Add <code class="inline">phx-glow</code> to an element.</p>\n'
              '<p>A <code class="inline">phx-glow</code> value is a colour.</p>')


def test_a_vanished_term_cites_the_page_that_taught_it_most(tmp_path):
    # The effects guide names phx-glow in passing; the overview is about it.
    passing = ('<h1>Effects</h1>\n<h2 id="bindings">Bindings</h2>\n'
               '<p>See <code class="inline">phx-glow</code>.</p>')
    base, finding = _last_taught(tmp_path, {"effects": passing, "overview": GLOW_TWICE})

    assert (finding.evidence.url, finding.evidence.section) == (
        f"{base}/glimmer/overview.html", "Glowing")


def test_a_vanished_term_cites_a_guide_before_a_changelog(tmp_path):
    # A changelog names a binding in every entry that touched it; a guide teaches it.
    entries = "\n".join(f'<h2 id="v{n}">v0.{n}.0</h2>\n<p>Fix <code class="inline">'
                         f'phx-glow</code> on forms.</p>' for n in range(1, 5))
    base, finding = _last_taught(tmp_path, {"changelog": f"<h1>Changelog</h1>\n{entries}",
                                            "effects": GLOW_TWICE})

    assert (finding.evidence.url, finding.evidence.section) == (
        f"{base}/glimmer/effects.html", "Glowing")


# -- stale_lines: arity, scope, shapes and whose package it is ---------------------------

# What each package's docs teach (vocabulary entries): whose API a line uses.
TAUGHT = {
    "phoenix": ["module:Phoenix.Router", "module:Phoenix.Controller",
                "function:Phoenix.Controller.render/3", "function:Phoenix.Router.live/4",
                "function:Phoenix.Controller.put_layout/2"],
    "phoenix_live_view": ["module:Phoenix.LiveView", "module:Phoenix.LiveViewTest",
                          "function:Phoenix.LiveViewTest.rendered_to_string/1"],
    "phoenix_html": ["module:Phoenix.HTML", "module:Phoenix.HTML.Form",
                     "function:Phoenix.HTML.Form.input_value/2", "function:text_input/3"],
    "ecto": ["module:Ecto.Repo", "module:Ecto.Changeset", "function:Ecto.Repo.insert/2",
             "function:Ecto.Repo.update_all/3", "function:Ecto.Changeset.cast/4"],
    "oban": ["module:Oban", "module:Oban.Worker", "function:Oban.insert/2",
             "function:Oban.Worker.new/2"],
}
NAMES = Namespaces.of(TAUGHT)


def retired(text: str, kind: str, package: str | None, how: str = "deprecated",
            scope: tuple[Term, ...] = (), shape: Shape | None = None) -> Finding:
    """A finding of ``package``'s docs (None: not a hexdocs page)."""
    url = f"https://hexdocs.pm/{package}/changelog.html" if package else "http://docs.test/"
    return Finding(Term(text, TermKind(kind)), NoticeKind(how),
                   Evidence(url, "v2.0.0 › Deprecations", f"`{text}` is {how}."), None,
                   package, scope, shape)


def flagged(lines: list[str], findings: list[Finding],
            watches: frozenset[str] = frozenset()) -> list[tuple[int, str, str | None]]:
    """(line number, term, package) of each stale line; ``watches``: the skill's packages."""
    stale = stale_lines(list(enumerate(lines, 1)), findings, NAMES, watches)
    return [(s.line, s.term, s.package) for s in stale]


def numbers(lines: list[str], findings: list[Finding],
            watches: frozenset[str] = frozenset()) -> list[int]:
    return [n for n, _, _ in flagged(lines, findings, watches)]


PHOENIX = frozenset({"phoenix"})


def test_a_documented_arity_fits_calls_of_n_and_n_minus_1_arguments():
    render = retired("Phoenix.Controller.render/3", "function", "phoenix")
    lines = ["render(conn, :index, title: \"Home\")",  # 3
             "render(conn, :index)",  # 2: the options left out
             "render(conn)",  # 1: another function
             "conn |> render(:index, title: \"Home\")",  # 3 with the pipe's subject
             "Phoenix.Controller.render(conn)",
             "render(conn, :index, assigns, :extra)"]

    assert numbers(lines, [render], PHOENIX) == [1, 2, 4]


def test_a_definition_must_have_the_exact_arity():
    render = retired("Phoenix.Controller.render/3", "function", "phoenix")
    lines = ["def render(assigns) do",  # a function component, not render/3
             "def render(conn, template) do",
             "def render(conn, template, assigns) do"]

    assert numbers(lines, [render], PHOENIX) == [3]


def test_a_call_continued_on_the_next_line_does_not_show_its_arity():
    update_all = retired("Ecto.Repo.update_all/3", "function", "ecto")
    lines = ["```elixir", "Repo.update_all(query,", "  set: [seen: true])", "```"]

    assert numbers(lines, [update_all]) == [2]


RETURNING = retired(":returning", "option", "ecto",
                    scope=(Term("update_all", TermKind.FUNCTION),
                           Term("delete_all", TermKind.FUNCTION)))


def test_a_scoped_option_is_stale_only_inside_a_call_of_its_scope():
    lines = ["Repo.update_all(query, [set: [seen: true]], returning: true)",
             "Repo.insert_all(Post, rows, returning: true)",
             "Pass `returning: true` to get the rows back.",
             "Pass `returning: true` to `update_all/3` to get the rows back."]

    # The function named in prose is in scope too.
    assert numbers(lines, [RETURNING], frozenset({"ecto"})) == [1, 4]


def test_a_scoped_option_is_stale_in_a_call_opened_on_the_lines_above():
    lines = ["```elixir",
             "Repo.update_all(query,",
             "  [set: [seen: true]],",
             "  returning: true)",
             "Repo.insert_all(Post, rows,",
             "  returning: true)",
             "```",
             "returning: true"]  # outside the block: nothing above it counts

    assert numbers(lines, [RETURNING]) == [4]


def test_a_call_closed_on_the_line_above_is_no_scope():
    lines = ["```elixir", "Repo.update_all(query, set: [seen: true])",
             "opts = [returning: true]", "```"]

    assert numbers(lines, [RETURNING]) == []


def test_a_module_scope_is_met_by_that_modules_package_or_named_in_prose():
    # "The `:shine` option in `Phoenix.Router`": the router's macros are called bare.
    shine = retired(":shine", "option", "phoenix", scope=(Term("Phoenix.Router",
                                                               TermKind.MODULE),))
    lines = ["use Phoenix.Router, shine: true",
             'live "/", HomeLive, shine: true',  # Phoenix.Router.live, imported
             "Set `shine: true` in `Phoenix.Router`.",
             "Repo.insert(changeset, shine: true)"]  # Ecto's call: another package

    assert numbers(lines, [shine]) == [1, 2, 3]


def test_a_use_m_scope_is_strict_in_code_and_loose_in_prose():
    # "The `:shine` option of `use Phoenix.Router`": in code, only on `use Phoenix.Router`.
    shine = retired(":shine", "option", "phoenix", scope=(Term("use Phoenix.Router",
                                                               TermKind.MODULE),))
    lines = ["use Phoenix.Router, shine: true",
             'live "/", HomeLive, shine: true',
             "use Phoenix.Controller, shine: true",
             "Set `shine: true` when you use the router."]  # a sentence names it alone

    assert numbers(lines, [shine], PHOENIX) == [1, 4]
    assert numbers(lines, [shine]) == [1]  # the sentence: only a phoenix skill's


def test_a_bare_option_is_stale_only_in_a_call_of_its_package():
    timeout = retired(":timeout", "option", "ecto", "removed")
    lines = ["Repo.insert(changeset, timeout: 5_000)",
             "Oban.insert(job, timeout: 5_000)",  # Oban's call: clean
             "Req.get!(url, timeout: 5_000)"]  # another library's: clean

    assert numbers(lines, [timeout]) == [1]
    assert numbers(lines, [timeout], frozenset({"ecto", "oban"})) == [1]  # watches: no say


def test_a_line_that_says_nothing_is_judged_by_the_skills_watches():
    timeout = retired(":timeout", "option", "ecto", "removed")
    lines = ["Raise `timeout: 15_000` for slow queries."]

    assert numbers(lines, [timeout], frozenset({"ecto"})) == [1]
    assert numbers(lines, [timeout], frozenset({"oban"})) == []
    assert numbers(lines, [timeout]) == []  # no tie and no watches: no flag


def test_a_line_that_says_nothing_is_judged_by_the_code_block_above():
    timeout = retired(":timeout", "option", "ecto", "removed")
    lines = ["```elixir", "Oban.Worker.new(args,", "  timeout: 5_000)", "```",
             "```elixir", "Repo.insert(changeset,", "  timeout: 5_000)", "```"]

    assert numbers(lines, [timeout], frozenset({"ecto", "oban"})) == [7]


def test_a_finding_of_no_package_needs_no_tie():
    timeout = retired(":timeout", "option", None, "removed")

    assert numbers(["Req.get!(url, timeout: 5_000)"], [timeout]) == [1]


FLOKI = retired("Floki", "module", "phoenix_live_view", "replaced")


def test_another_librarys_module_is_judged_by_the_lines_other_calls():
    # LiveView's docs moved from `Floki`: a line is LiveView's business where its other
    # calls are LiveView's, not where Floki is used for something else.
    lines = ['LiveViewTest.rendered_to_string(Floki.find(doc, "a"))',
             'Enum.map(Floki.find(doc, "a"), &Floki.text/1)',
             'html |> Floki.find("a")']

    assert numbers(lines, [FLOKI]) == [1]
    assert numbers(lines, [FLOKI], frozenset({"ecto"})) == [1]
    # In a LiveView skill, code that only calls Floki is still Floki's business; a
    # sentence that names it is the skill's (LiveView's).
    assert numbers(lines, [FLOKI], frozenset({"phoenix_live_view"})) == [1]
    assert numbers([*lines, "Parse the rendered HTML with `Floki`."], [FLOKI],
                   frozenset({"phoenix_live_view"})) == [1, 4]


def test_a_packages_own_module_needs_no_tie():
    live = retired("Phoenix.LiveView.Helpers", "module", "phoenix_live_view", "removed")

    assert numbers(["import Phoenix.LiveView.Helpers, warn: false"], [live]) == [1]


def test_another_librarys_dependency_is_stale_where_the_line_ties_it_to_the_package():
    # The dependency of a library the package's docs moved away from: stale where the
    # line says it is for that package, not as a bare dependency of the application.
    lines = ['{:floki, ">= 0.30.0", only: :test},  # for Phoenix.LiveViewTest',
             '{:floki, ">= 0.30.0", only: :test}']

    assert numbers(lines, [FLOKI], frozenset({"phoenix_live_view"})) == [1]


# -- usage shapes and option values on real-looking lines --------------------------------


def test_a_usage_shape_flags_only_calls_written_that_way():
    transaction = retired("Ecto.Repo.transaction/2", "function", "ecto",
                          shape=Shape(arg=ArgKind.FUNCTION))
    lines = ["Repo.transaction(fn -> Repo.insert!(changeset) end)",
             "Repo.transaction(multi)",
             "MyApp.Repo.transaction(&run/1, timeout: 5_000)",
             "Wrap it in `Repo.transaction/2`."]  # named, not called: no shape to judge

    assert numbers(lines, [transaction]) == [1, 3]


def test_a_list_of_strings_shape():
    cast = retired("Ecto.Changeset.cast/4", "function", "ecto",
                   shape=Shape(arg=ArgKind.LIST_OF_STRINGS))
    lines = ["cast(user, attrs, ~w(name email))",
             "|> cast(attrs, ~w(name email))",
             "cast(user, attrs, ~w(name email)a)",
             "cast(user, attrs, [:name, :email])"]

    assert numbers(lines, [cast]) == [1, 2]


def test_the_docs_example_call_as_a_shape():
    put_layout = retired("put_layout/2", "function", "phoenix",
                         shape=Shape(example=("conn", ":print")))
    lines = ["put_layout(conn, :print)",
             "put_layout(conn, {MyAppWeb.Layouts, :app})",
             "plug :put_layout, :admin",
             "plug :put_layout, html: {MyAppWeb.Layouts, :app}",
             "conn |> put_layout(:print)"]

    assert numbers(lines, [put_layout]) == [1, 3, 5]


def test_an_option_given_a_retired_value():
    on_conflict = retired(":on_conflict", "option", "ecto",
                          shape=Shape(option="on_conflict", value="{:constraint, _}"))
    lines = ["Repo.insert(cs, on_conflict: {:constraint, :users_pkey})",
             "Repo.insert(cs, on_conflict: :nothing)",
             "Repo.insert(cs, on_conflict: {:replace, [:name]})",
             "Repo.insert(cs, on_conflict: {:constraint, :pk}, returning: true)"]

    assert numbers(lines, [on_conflict]) == [1, 4]


def test_an_option_value_retired_for_one_function_is_stale_only_in_its_calls():
    on_conflict = retired(":on_conflict", "option", "ecto",
                          scope=(Term("insert_all", TermKind.FUNCTION),),
                          shape=Shape(option="on_conflict", value="{:constraint, _}"))
    lines = ["Repo.insert_all(Post, rows, on_conflict: {:constraint, :posts_pkey})",
             "Repo.insert(changeset, on_conflict: {:constraint, :posts_pkey})",
             "Repo.insert_all(Post, rows, on_conflict: :nothing)"]

    assert numbers(lines, [on_conflict]) == [1]


def test_a_retired_value_of_an_option_is_stale_only_as_that_options_value():
    value = retired(":replace_all_except_pk", "option", "ecto",
                    scope=(Term(":on_conflict", TermKind.OPTION),))
    lines = ["Repo.insert(cs, on_conflict: :replace_all_except_pk)",
             "Repo.insert(cs, mode: :replace_all_except_pk)",
             "mode = :replace_all_except_pk"]

    assert numbers(lines, [value], frozenset({"ecto"})) == [1]


def test_a_kind_of_value_retired_for_an_option():
    tuples = retired(":filter", "option", "ecto", "removed",
                     shape=Shape(arg=ArgKind.TUPLE, option="filter"))
    lines = ["Repo.all(Post, filter: {:published, true})",
             "Repo.all(Post, filter: [published: true])"]

    assert numbers(lines, [tuples]) == [1]


def test_use_m_without_an_option_it_must_now_be_given():
    formats = retired("Phoenix.Controller", "module", "phoenix",
                      shape=Shape(option="formats", absent=True))
    lines = ["use Phoenix.Controller",
             "use Phoenix.Controller, formats: [:json]",
             "use Phoenix.Controller,",  # continued: the option may follow
             "  use Phoenix.Controller, layouts: [html: MyAppWeb.Layouts]",
             "use Phoenix.Controller.Pipeline",
             "alias Phoenix.Controller"]

    assert numbers(lines, [formats]) == [1, 4]


# -- issue 18: three packages whose notices share option names ---------------------------

SHARED = [retired(":name", "option", "phoenix_html"),
          retired(":prefix", "option", "phoenix_html", "removed"),
          retired(":timeout", "option", "ecto", "removed"),
          retired(":prefix", "option", "ecto"),
          retired(":name", "option", "oban", "renamed"),
          retired(":timeout", "option", "oban")]
THREE = frozenset({"phoenix_html", "ecto", "oban"})


@pytest.mark.parametrize("watches", [THREE, frozenset()])
def test_each_line_is_flagged_only_by_its_own_packages_notice(watches):
    lines = ['Repo.insert(changeset, timeout: 5_000, prefix: "tenant")',
             '<%= text_input f, :email, name: "user[email]", prefix: "u" %>',
             'Oban.insert(job, name: "nightly", timeout: 1_000)',
             'config :my_app, MyApp.Repo, prefix: "tenant", timeout: 15_000',
             'config :my_app, Oban, name: MyApp.Oban, prefix: "jobs"',
             "```elixir",
             "Oban.Worker.new(args,",
             "  timeout: 5_000,",
             '  name: "cleanup")',
             "```",
             'Req.get!(url, name: "x", timeout: 5, prefix: "/")']

    assert flagged(lines, SHARED, watches) == [
        (1, ":timeout", "ecto"), (1, ":prefix", "ecto"),
        (2, ":name", "phoenix_html"), (2, ":prefix", "phoenix_html"),
        (3, ":name", "oban"), (3, ":timeout", "oban"),
        (4, ":timeout", "ecto"), (4, ":prefix", "ecto"),
        (5, ":name", "oban"),  # Oban retires no :prefix
        (8, ":timeout", "oban"), (9, ":name", "oban")]


def test_a_shared_option_in_a_line_that_says_nothing_is_each_watched_packages():
    lines = ["Raise `timeout: 15_000` when it is slow."]

    assert flagged(lines, SHARED, THREE) == [(1, ":timeout", "ecto"), (1, ":timeout", "oban")]
    assert flagged(lines, SHARED, frozenset({"oban"})) == [(1, ":timeout", "oban")]


def test_a_stale_line_cites_its_own_packages_evidence():
    [stale] = stale_lines([(3, "  Repo.insert(changeset, timeout: 5_000)")], SHARED, NAMES,
                          THREE)

    assert (stale.line, stale.text, stale.term, stale.kind, stale.package) == (
        3, "Repo.insert(changeset, timeout: 5_000)", ":timeout", "removed", "ecto")
    assert stale.evidence.url == "https://hexdocs.pm/ecto/changelog.html"


def test_check_skills_takes_a_skills_packages_from_its_watches(tmp_path):
    text = "# Jobs\n\nRaise `timeout: 15_000` when it is slow.\n"
    files = [SkillFile("jobs", tmp_path / "jobs.md", text, ("https://hexdocs.pm/oban/*",)),
             SkillFile("queries", tmp_path / "queries.md", text,
                       ("https://hexdocs.pm/ecto/Ecto.Repo.html",)),
             SkillFile("other", tmp_path / "other.md", text)]

    stale = check_skills(files, SHARED, NAMES)

    assert {name: [(s.line, s.package) for s in lines] for name, lines in stale.items()} == {
        "jobs": [(3, "oban")], "queries": [(3, "ecto")], "other": []}


# -- usages of a module, tagged tuples, Erlang calls, examples ---------------------------


def test_a_use_with_the_retired_option_is_stale_and_one_without_is_not():
    use = retired("Sparkle", "module", "sparkle", shape=Shape(option="otp_app"))

    assert numbers(["use Sparkle, otp_app: :demo", "use Sparkle, backend: Demo.Sparkle",
                    "use Sparkle"], [use]) == [1]


def test_a_plug_without_the_option_it_must_be_given_is_stale():
    parser = retired("Sparkle.Parser", "module", "sparkle", "removed",
                     shape=Shape(option="formats", absent=True))

    assert numbers(["plug Sparkle.Parser, pass: [\"*/*\"]",
                    "plug Sparkle.Parser, formats: [:json], pass: [\"*/*\"]",
                    "plug Sparkle.Parser,"],  # continued below: its options may follow
                   [parser]) == [1]


def test_a_tagged_tuple_is_found_by_its_tag():
    one_of = retired("{:one_of, …}", "tuple", "sparkle")

    assert numbers(["level: [type: {:one_of, [:debug, :info]}, default: :info]",
                    "level: [type: {:in, [:debug, :info]}]"], [one_of],
                   frozenset({"sparkle"})) == [1]


def test_an_erlang_call_with_a_retired_argument_kind_is_stale():
    attach = retired(":sparkle.attach/4", "function", "sparkle",
                     shape=Shape(arg=ArgKind.FUNCTION))

    assert numbers([':sparkle.attach("id", [:a], &handle/4, nil)',
                    ':sparkle.attach("id", [:a], {Handler, :handle}, nil)'], [attach]) == [1]


def test_an_example_with_keywords_matches_any_keyword_list_of_that_call():
    tint = retired("tint/2", "function", "sparkle",
                   shape=Shape(example=("color", "hue: ...")))

    assert numbers(["|> tint(hue: 10, light: 0.5)", "tint(color, %{hue: 10})",
                    "tint(color, hue: 10)"], [tint], frozenset({"sparkle"})) == [1, 3]


def test_a_stale_line_of_a_usage_says_which_usage():
    use = retired("Sparkle.Controller", "module", "sparkle",
                  shape=Shape(option="formats", absent=True))
    [stale] = stale_lines([(1, "use Sparkle.Controller, namespace: App")], [use], NAMES,
                          frozenset({"sparkle"}))

    assert stale.usage == "without :formats"
    assert describe(stale) == "Sparkle.Controller without :formats is deprecated"
