"""Snippet drift: a skill line that still copies a code line the docs changed is stale.

The unit tests feed docwatch's normalised page texts (``#`` headings, fenced blocks,
inline code in backticks) to :mod:`crawler.analysis.drift`. The end-to-end test serves
a tiny ExDoc-shaped package ("lantern", written below) from 127.0.0.1 in three
versions, crawls it into a real SQLite database through the real pipeline, and reads
what ``docwatch skills check`` and the report say.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.analysis.drift import (
    code_key,
    drifted,
    is_trivial,
    snippet_changes,
    still_shown,
)
from crawler.analysis.facts import DocsFacts, SnippetChange
from crawler.analysis.findings import Evidence, Finding
from crawler.analysis.owners import Namespaces
from crawler.analysis.skill_files import SkillFile
from crawler.analysis.stale import check_skills, describe
from crawler.cli import cli
from crawler.config import load_config
from crawler.demo.server import DocServer
from crawler.pipeline import crawl
from crawler.types import NoticeKind, TermKind
from crawler.vocab import Term

URL = "https://docs.test/lantern/wiring.html"


def page(*blocks: str) -> str:
    """A normalised page text: a title, then the blocks (a fenced block is a list)."""
    out = ["# Wiring"]
    for block in blocks:
        out.append("")
        out.append(block)
    return "\n".join(out) + "\n"


def fenced(*lines: str) -> str:
    return "\n".join(["```", *lines, "```"])


# -- code_key ----------------------------------------------------------------------------


@pytest.mark.parametrize(("one", "other"), [
    # whitespace, and a trailing separator
    ('lamp.dim(level: 2, fade: true)', 'lamp.dim( level: 2,  fade: true );'),
    # quote style
    ("Lantern.open('/glow', key: 'k')", 'Lantern.open("/glow", key: "k")'),
    # names of local variables, everywhere they occur
    ("lamps |> Enum.map(lamp => light(lamp))", "ls |> Enum.map(l => light(l))"),
    ("{:ok, lamp, room} = Lantern.join(hall)", "{:ok, l, r} = Lantern.join(h)"),
    ("from l in Lamp, where: l.lit", "from x in Lamp, where: x.lit"),
    # a comment, a prompt
    ("Lantern.start(:hall) # at boot", "Lantern.start(:hall)"),
    ("$ mix lantern.gen.wire Hall", "mix lantern.gen.wire Hall"),
    ("iex> Lantern.rooms()", "Lantern.rooms()"),
])
def test_copies_of_one_line_share_a_key(one, other):
    assert code_key(one) == code_key(other)


@pytest.mark.parametrize(("one", "other"), [
    # a keyword is not a variable name: let and const are a change of the docs
    ('let lamp = new Lantern("/glow")', 'const lamp = new Lantern("/glow")'),
    # function, macro and attribute names, atoms and keys are kept
    ('get "/", HallController, :index', 'post "/", HallController, :index'),
    ('<div phx-flicker="fast">', '<div phx-shimmer="fast">'),
    ("Lantern.dim(lamp, level: 2)", "Lantern.dim(lamp, levels: 2)"),
    ("Lantern.dim(lamp, :low)", "Lantern.dim(lamp, :high)"),
    ("mix lantern.gen.wire Hall", "mix lantern.gen.room Hall"),
    # strings are kept
    ('Lantern.open("/glow")', 'Lantern.open("/glare")'),
])
def test_a_changed_line_gets_another_key(one, other):
    assert code_key(one) != code_key(other)


@pytest.mark.parametrize("line", ["end", "  end)", "}", "]);", "do", "{:ok, socket}",
                                  "# configure it here", "</div>", "phx-flicker",
                                  "Lantern.Hall", '"/glow"', ""])
def test_lines_every_snippet_has_and_bare_names_are_trivial(line):
    assert is_trivial(code_key(line))


@pytest.mark.parametrize("line", ["timestamps()", "mix lantern.setup",
                                  'plug :light, at: "/glow"'])
def test_short_code_is_not_trivial(line):
    assert not is_trivial(code_key(line))


# -- snippet_changes ---------------------------------------------------------------------

OLD = page(
    "## Connecting",
    fenced('import {Lantern} from "lantern"',
           'let lamp = new Lantern("/glow", {params: {key: window.lampKey}})',
           "lamp.connect()",
           "lamp.onFlicker(event => console.log(event))",
           "end"),
    "Generate the server side with `mix lantern.gen.wire Hall`, then `mix lantern.setup`.")
NEW = page(
    "## Connecting",
    fenced('import {Lantern} from "lantern"',
           'let lamp = new Lantern("/glow", {authKey: window.lampKey})',
           "lamp.connect()",
           "  lamp.onFlicker( ev  =>  console.log(ev) )",
           "end)"),
    "Generate the server side with `mix lantern.gen.wire Hall --live`.")


def test_a_changed_code_line_is_paired_with_the_line_that_took_its_place():
    changes = snippet_changes(URL, OLD, NEW)

    assert [(c.section, c.old, c.new) for c in changes] == [
        ("Connecting", 'let lamp = new Lantern("/glow", {params: {key: window.lampKey}})',
         'let lamp = new Lantern("/glow", {authKey: window.lampKey})'),
        ("Connecting", "mix lantern.gen.wire Hall", "mix lantern.gen.wire Hall --live")]
    assert all(c.url == URL for c in changes)
    # The hunk: the line before (unchanged), the old line, the new one.
    assert changes[0].hunk.splitlines() == [
        ' import {Lantern} from "lantern"',
        '-let lamp = new Lantern("/glow", {params: {key: window.lampKey}})',
        '+let lamp = new Lantern("/glow", {authKey: window.lampKey})']


def test_respacing_renaming_and_trivial_lines_are_no_change():
    # lamp.onFlicker only changed spacing and its variable's name; end -> end) is noise;
    # `mix lantern.setup` left the prose with nothing like it: a command named less often
    # is no evidence that it changed.
    olds = [c.old for c in snippet_changes(URL, OLD, NEW)]

    assert not any("onFlicker" in old or old.startswith("end") or "setup" in old
                   for old in olds)
    assert snippet_changes(URL, OLD, OLD) == []


def test_a_removed_line_with_nothing_like_it_has_no_replacement():
    old = page("## Rooms", fenced("Lantern.Room.close(room)", "Lantern.Room.open(hall, :warm)"))
    new = page("## Rooms", fenced("Lantern.Room.open(hall, :warm)"))

    [change] = snippet_changes(URL, old, new)

    assert (change.old, change.new, change.hunk) == (
        "Lantern.Room.close(room)", None, "-Lantern.Room.close(room)")


def test_a_line_moved_within_the_page_did_not_change():
    old = page("## A", fenced("Lantern.Room.open(hall, :warm)"), "## B", "Nothing here.")
    new = page("## A", "Nothing here.", "## B", fenced("Lantern.Room.open(hall, :warm)"))

    assert snippet_changes(URL, old, new) == []


def test_code_in_a_list_item_or_a_quote_counts():
    old = page("- Then:\n\n  ```\n  Lantern.glow(lamp, 3)\n  ```",
               "> ```\n> Lantern.fade(lamp, 1)\n> ```")
    new = page("- Then:\n\n  ```\n  Lantern.glow(lamp, level: 3)\n  ```",
               "> ```\n> Lantern.fade(lamp, 1)\n> ```")

    [change] = snippet_changes(URL, old, new)

    assert (change.old, change.new) == ("Lantern.glow(lamp, 3)", "Lantern.glow(lamp, level: 3)")



def test_a_skill_that_writes_out_the_variable_the_example_bound_drifted_too():
    # The docs put the query in a variable first; a skill writes it into the option.
    old = page("## Prefixes", fenced('query_args = ["SET search_path TO tenant", []]',
                                     "config :my_app, MyApp.Repo,",
                                     "  after_connect: {Postgrex, :query!, query_args}"))
    new = page("## Prefixes", fenced("config :my_app, MyApp.Repo,",
                                     '  parameters: [search_path: ["tenant"]]'))
    changes = snippet_changes(URL, old, new)
    inlined = 'after_connect: {Postgrex, :query!, ["SET search_path TO tenant", []]}'

    assert [c.old for c in changes] == [
        'query_args = ["SET search_path TO tenant", []]',
        "after_connect: {Postgrex, :query!, query_args}", inlined]
    assert changes[2].hunk == changes[1].hunk  # the evidence is the docs' own lines
    lines = [(1, f"  {inlined}"), (2, "after_connect: {Postgrex, :query!, args}"),
             (3, 'after_connect: {Postgrex, :query!, ["SET search_path TO other", []]}'),
             (4, '  parameters: [search_path: ["tenant"]]')]
    # Line 2 copies the docs' own line (its variable named otherwise); line 3 writes
    # another value than the one the docs bound.
    assert [n for n, _ in drifted(lines, changes, frozenset())] == [1, 2]


def test_a_variable_bound_in_another_block_or_below_is_not_written_out():
    old = page("## A", fenced("opts = [size: 3]"),
               fenced("Lantern.glow(lamp, opts)", "opts = [size: 4]"))
    new = page("## A", fenced("opts = [size: 3]"), fenced("Lantern.glow(lamp, level: 3)"))

    olds = [c.old for c in snippet_changes(URL, old, new)]

    assert "Lantern.glow(lamp, opts)" in olds
    assert not any("size:" in old and "glow" in old for old in olds)

# -- drifted / still_shown ---------------------------------------------------------------

CHANGE = SnippetChange(URL, "Connecting",
                       'let lamp = new Lantern("/glow", {params: {key: window.lampKey}})',
                       'let lamp = new Lantern("/glow", {authKey: window.lampKey})',
                       "-old\n+new")


def test_skill_lines_that_copy_the_old_line_drifted():
    lines = [
        (1, 'let lamp = new Lantern("/glow", {params: {key: window.lampKey}})'),  # as is
        (2, "  let l = new Lantern('/glow', { params: { key: window.lampKey } });"),
        (3, '- Connect: `let lamp = new Lantern("/glow", {params: {key: window.lampKey}})`.'),
        (4, 'let lamp = new Lantern("/glow", {authKey: window.lampKey})'),  # the new line
        (5, 'const lamp = new Lantern("/glow", {params: {key: window.lampKey}})'),
        (6, "Connect a lamp with params."),
    ]

    assert [n for n, change in drifted(lines, [CHANGE], frozenset())] == [1, 2, 3]


def test_a_block_comment_line_quoted_on_one_line_drifted():
    change = SnippetChange(URL, "Typing", ' * @type {import("lantern").LampSpec}',
                           ' * @type {import("lantern").Lamp}', "-old\n+new")
    lines = [(1, 'Type it with `/** @type {import("lantern").LampSpec} */` above it.'),
             (2, 'Type it with `/** @type {import("lantern").Lamp} */` above it.')]

    assert [n for n, _ in drifted(lines, [change], frozenset())] == [1]


def test_a_line_still_shown_by_some_current_page_did_not_drift():
    # The old line left the wiring page, but a current page still shows it (with other
    # variable names): it moved, it did not change.
    elsewhere = page("## Legacy", fenced('let light = new Lantern("/glow", '
                                         "{params: {key: window.lampKey}})"))
    unrelated = page("## Other", "Use `Lantern.rooms()` to list rooms.")

    shown = still_shown([unrelated, elsewhere], [CHANGE])

    assert shown == {code_key(CHANGE.old)}
    assert drifted([(1, CHANGE.old)], [CHANGE], shown) == []
    assert still_shown([unrelated], [CHANGE]) == set()


def test_still_shown_reads_inline_code_too():
    prose = page("Before 2.0 one wrote `let lamp = new Lantern(\"/glow\", "
                 "{params: {key: window.lampKey}})` here.")

    assert still_shown([prose], [CHANGE]) == {code_key(CHANGE.old)}


def test_check_skills_adds_drift_as_changed_lines_after_the_findings():
    skill = SkillFile("lantern", Path("SKILL.md"), "\n".join([
        "# Lantern",
        "Connect with `let lamp = new Lantern(\"/glow\", {params: {key: window.lampKey}})`.",
        "Dim it with `Lantern.dim(lamp)` and "
        "`let lamp = new Lantern(\"/glow\", {params: {key: window.lampKey}})`.",
    ]))
    dim = Finding(Term("Lantern.dim/1", TermKind.FUNCTION), NoticeKind.DEPRECATED,
                  Evidence("https://docs.test/changelog.html", "v2", "…"))
    docs = DocsFacts(snippets=(CHANGE,))

    [found] = check_skills([skill], [dim], docs=docs).values()

    assert [(s.line, s.kind, s.term) for s in found] == [
        (2, NoticeKind.CHANGED, CHANGE.old),
        (3, NoticeKind.DEPRECATED, "Lantern.dim/1")]  # line 3 says it once, the finding
    assert found[0].replacement == CHANGE.new
    assert found[0].evidence == Evidence(URL, "Connecting", "-old\n+new")
    assert describe(found[0]) == f"{CHANGE.old} changed in the docs; use {CHANGE.new}"
    assert check_skills([skill], []) == {"lantern": ()}


# -- end to end: a package served in three versions ---------------------------------------

SIDEBAR = ('sidebarNodes={"extras":['
           '{"id":"overview","title":"Overview","group":""},'
           '{"id":"wiring","title":"Wiring","group":"Guides"}],'
           '"modules":[],"tasks":[]}')

OVERVIEW_V1 = """<h1>Overview</h1>
<p>Lantern lights up rooms over a socket.</p>"""

# v2 shows the broadcast line here: it moved from the wiring guide, it did not change.
OVERVIEW_V2 = """<h1>Overview</h1>
<p>Lantern lights up rooms over a socket.</p>
<pre><code class="makeup elixir">Lantern.Room.broadcast(room, "flicker", %{})</code></pre>"""

WIRING_V1 = """<h1>Wiring</h1>
<h2 id="connecting">Connecting</h2>
<p>Open a lamp from the browser:</p>
<pre><code class="makeup javascript">import {Lantern} from "lantern"
let lamp = new Lantern("/glow", {params: {key: window.lampKey}})
lamp.connect()</code></pre>
<p>Generate the server side with <code class="inline">mix lantern.gen.wire Hall</code>.</p>
<h2 id="rooms">Rooms</h2>
<pre><code class="makeup elixir">def join("hall:" &lt;&gt; _id, _params, socket) do
  Lantern.Room.broadcast(room, "flicker", %{})
  {:ok, socket}
end</code></pre>"""

WIRING_V2 = """<h1>Wiring</h1>
<h2 id="connecting">Connecting</h2>
<p>Open a lamp from the browser:</p>
<pre><code class="makeup javascript">import {Lantern} from "lantern"
let lamp = new Lantern("/glow", {authKey: window.lampKey})
lamp.connect()</code></pre>
<p>Generate the server side with <code class="inline">mix lantern.gen.wire Hall --live</code>.</p>
<h2 id="rooms">Rooms</h2>
<pre><code class="makeup elixir">def join("hall:" &lt;&gt; _id, _params, socket) do
  {:ok, socket}
end</code></pre>"""

# v3 only rewords a sentence: the change of v2 must still be reported.
WIRING_V3 = WIRING_V2.replace("Open a lamp from the browser:",
                              "Open a lamp from the browser, once per page:")

VERSIONS = {"v1": {"overview": OVERVIEW_V1, "wiring": WIRING_V1},
            "v2": {"overview": OVERVIEW_V2, "wiring": WIRING_V2},
            "v3": {"overview": OVERVIEW_V2, "wiring": WIRING_V3}}

SKILL = """---
name: lantern-wiring
description: Wiring lanterns to rooms.
---
# Lantern wiring

- In the browser, `let lamp = new Lantern("/glow", {params: {key: window.lampKey}})`.
- Generate the channel with `mix lantern.gen.wire Hall`.
- Announce with `Lantern.Room.broadcast(room, "flicker", %{})`.

```js
let light = new Lantern('/glow', { params: { key: window.lampKey } });
let lamp = new Lantern("/glow", {authKey: window.lampKey})
```
"""
DAYS = {"v1": dt.date(2025, 6, 1), "v2": dt.date(2025, 6, 2), "v3": dt.date(2025, 6, 3)}


def html(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title} — Lantern</title>"
            '<script src="dist/sidebar_items-LMP.js"></script></head>\n'
            f'<body><main class="content"><div id="content">{body}\n'
            '<footer class="footer">Built using ExDoc</footer></div></main></body></html>\n')


def write_site(root: Path) -> None:
    for version, pages in VERSIONS.items():
        package = root / version / "lantern"
        (package / "dist").mkdir(parents=True)
        (package / "index.html").write_text(
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta http-equiv="refresh" content="0; url=overview.html"></head></html>\n')
        (package / "dist" / "sidebar_items-LMP.js").write_text(SIDEBAR)
        for page_id, body in pages.items():
            (package / f"{page_id}.html").write_text(html(page_id.title(), body))


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """v1, v2 and v3 crawled on three days; the reports of v2 and v3."""
    folder = tmp_path_factory.mktemp("lantern")
    write_site(folder / "site")
    skill = folder / "skills" / "lantern-wiring" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_text(SKILL)
    database = f"sqlite:///{folder}/db.sqlite3"
    reports = {}
    with DocServer(root=folder / "site", version="v1") as site:
        config_path = folder / "sources.yaml"
        config_path.write_text(f"""
report:
  title: "Lantern Watch"
  dir: out
sources:
  - name: docs
    kind: exdoc
    urls: [{site.base_url}/lantern/]
skills:
  - name: lantern-wiring
    path: skills/lantern-wiring/SKILL.md
    keywords: [Lantern]
""")
        for version, date in DAYS.items():
            site.set_version(version)
            outcome = crawl(load_config(config_path), date=date, database=database)
            assert outcome.status == "completed" and outcome.errors == 0
            reports[version] = json.loads(outcome.report_paths[1].read_text())
        yield {"base": f"{site.base_url}/lantern", "config": config_path,
               "database": database, "reports": reports}


def stale_lines(report: dict) -> list[dict]:
    skill = next((s for s in report["skills"] if s["name"] == "lantern-wiring"), None)
    return skill["stale_lines"] if skill else []


def test_the_report_flags_the_copies_of_a_changed_snippet_with_the_new_line(crawled):
    assert stale_lines(crawled["reports"]["v1"]) == []
    stale = stale_lines(crawled["reports"]["v2"])

    # Line 7 copies the old constructor, line 12 too (other spacing, quotes and name);
    # line 8 the old command. Line 9's broadcast moved to the overview, line 13 is new.
    assert [(s["line"], s["kind"], s["replacement"]) for s in stale] == [
        (7, "changed", 'let lamp = new Lantern("/glow", {authKey: window.lampKey})'),
        (8, "changed", "mix lantern.gen.wire Hall --live"),
        (12, "changed", 'let lamp = new Lantern("/glow", {authKey: window.lampKey})')]
    first = stale[0]
    assert first["term"] == 'let lamp = new Lantern("/glow", {params: {key: window.lampKey}})'
    assert (first["evidence"]["url"], first["evidence"]["section"]) == (
        f"{crawled['base']}/wiring.html", "Connecting")
    assert first["evidence"]["sentence"].splitlines() == [
        ' import {Lantern} from "lantern"',
        '-let lamp = new Lantern("/glow", {params: {key: window.lampKey}})',
        '+let lamp = new Lantern("/glow", {authKey: window.lampKey})']


def test_the_drift_outlives_a_later_edit_of_the_page(crawled):
    assert stale_lines(crawled["reports"]["v3"]) == stale_lines(crawled["reports"]["v2"])


def test_skills_check_lists_the_changed_lines(crawled):
    result = CliRunner().invoke(cli, ["skills", "check", "--config", str(crawled["config"]),
                                      "--db", crawled["database"], "--json"])

    assert result.exit_code == 1, result.output
    lines = json.loads(result.output)["lantern-wiring"]
    assert [(s["line"], s["kind"], s["replacement"]) for s in lines] == [
        (7, "changed", 'let lamp = new Lantern("/glow", {authKey: window.lampKey})'),
        (8, "changed", "mix lantern.gen.wire Hall --live"),
        (12, "changed", 'let lamp = new Lantern("/glow", {authKey: window.lampKey})')]
    assert lines[1]["evidence"]["sentence"] == (
        "-mix lantern.gen.wire Hall\n+mix lantern.gen.wire Hall --live")

    text = CliRunner().invoke(cli, ["skills", "check", "--config", str(crawled["config"]),
                                    "--db", crawled["database"]])
    assert "SKILL.md:8: mix lantern.gen.wire Hall changed in the docs; use " \
           "mix lantern.gen.wire Hall --live" in text.output


def test_a_section_that_shows_no_code_any_more_changed_nothing():
    # A block the page no longer renders (empty) or an example dropped with its section's
    # code: no line took the old one's place, so a skill copying it is not told "changed".
    old = page("## Rooms", fenced("$ mix lantern.gen.room Hall"), "Then start the server.")
    new = page("## Rooms", "Then start the server.")

    assert snippet_changes(URL, old, new) == []


def test_a_line_whose_code_is_another_packages_is_not_drift_of_these_docs():
    # Package sparkle's docs changed `Glow.start(pid, :warm)`; a skill line that is the
    # same text but calls the module another watched package owns is that package's.
    change = SnippetChange("https://hexdocs.pm/sparkle/guide.html", "Start",
                           "Shine.Lamp.start(pid, :warm)", "Shine.Lamp.start(pid)",
                           "-Shine.Lamp.start(pid, :warm)\n+Shine.Lamp.start(pid)")
    skill = SkillFile("s", Path("SKILL.md"), "Shine.Lamp.start(pid, :warm)")
    docs = DocsFacts(snippets=(change,))

    # Shine.Lamp spells package shine's namespace: not sparkle's docs' business.
    names = Namespaces.of({"shine": ["module:Shine.Lamp"], "sparkle": ["module:Sparkle"]})
    assert check_skills([skill], [], names, docs) == {"s": ()}
    # With nothing saying whose it is, the copied line is drift of the docs it copies.
    [stale] = check_skills([skill], [], Namespaces.of({"sparkle": []}), docs)["s"]
    assert (stale.kind, stale.package) == (NoticeKind.CHANGED, "sparkle")
