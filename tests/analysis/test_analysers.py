"""The analysers of crawler.analysis, each called on its own with explicit inputs.

Inputs are the fact dataclasses built directly; skills are configured in code. What a
user would notice: which bump a package change is, which skills a run flags and in
what order, what the docs announce, and a report that reads the same however the
crawl's fetches happened to finish.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from crawler.analysis.actions import MAX_ACTIONS, suggest_actions
from crawler.analysis.bumps import VersionBump, version_bumps
from crawler.analysis.changes import in_report_order, problems_in_report_order
from crawler.analysis.facts import DocsFacts, FetchProblem, LastTaught, PageChange, PageNotice
from crawler.analysis.findings import Evidence, docs_findings, first_notices
from crawler.analysis.flags import (
    FlagReason,
    SkillFlag,
    add_bump_reasons,
    add_stale_lines,
    flag_skills,
)
from crawler.analysis.prereleases import prereleases_ahead
from crawler.analysis.stale import StaleLine
from crawler.config import SkillConfig
from crawler.hexdocs import package_of
from crawler.notices import Notice
from crawler.report.model import Report
from crawler.types import BumpKind, ChangeKind, Item, ItemMeta, NoticeKind, TermKind
from crawler.versions import bump_kind, parse_version
from crawler.vocab import Term

DOCS = "https://hexdocs.pm"
SKILLS = [
    SkillConfig(name="liveview", watches=[f"{DOCS}/phoenix_live_view/*"], keywords=["stream"]),
    SkillConfig(name="phoenix", watches=[f"{DOCS}/phoenix/*"]),
    SkillConfig(name="ecto", watches=[f"{DOCS}/ecto/*"], keywords=["Ecto.Multi"]),
]


def package_change(name: str, before: str | None, after: str | None,
                   known_before: bool = True) -> PageChange:
    return PageChange(
        "releases", name, f"https://hex.pm/packages/{name}", name, ChangeKind.MODIFIED,
        item=Item.PACKAGE,
        meta=ItemMeta(package=name, latest_stable_version=after, docs_url=f"{DOCS}/{name}/"),
        before=ItemMeta(package=name, latest_stable_version=before) if known_before else None)


# -- versions and bumps ------------------------------------------------------------------


def test_bump_kind_says_which_part_moved_up():
    assert parse_version("1.8.0-rc.1") == (1, 8, 0, "rc.1")
    assert parse_version("latest") is None
    assert [bump_kind("1.7.14", "2.0.0"), bump_kind("1.7.14", "1.8.0"),
            bump_kind("1.7.14", "1.7.15")] == [BumpKind.MAJOR, BumpKind.MINOR, BumpKind.PATCH]
    assert [bump_kind(None, "1.0.0"), bump_kind("2.0.0", "1.9.0"),
            bump_kind("1.0.0", "1.0.0")] == [None, None, None]


def test_a_bump_is_read_from_the_package_facts_before_and_after_the_change():
    bumps = version_bumps([package_change("phoenix", "1.7.14", "1.8.0"),
                           package_change("ecto", "3.12.5", "3.12.6")], SKILLS)

    assert bumps == (
        VersionBump("phoenix", "1.7.14", "1.8.0", BumpKind.MINOR,
                    "https://hex.pm/packages/phoenix", ("phoenix",)),
        VersionBump("ecto", "3.12.5", "3.12.6", BumpKind.PATCH, "https://hex.pm/packages/ecto"))
    assert [b.significant for b in bumps] == [True, False]


def test_no_bump_without_a_new_stable_version_or_without_the_facts_before():
    assert version_bumps([
        package_change("phoenix", "1.8.0", "1.8.0"),  # e.g. only a pre-release came out
        package_change("ecto", "3.12.5", None),  # every stable release retired
        package_change("phoenix_live_view", "1.0.0", "1.1.0", known_before=False),
    ], SKILLS) == ()
    first = version_bumps([package_change("phoenix", None, "1.0.0")], SKILLS)
    assert [(b.old, b.new, b.kind, b.skills) for b in first] == [(None, "1.0.0", None, ())]


# -- which skills a run concerns ---------------------------------------------------------


def page(package: str, name: str, kind: ChangeKind = ChangeKind.MODIFIED, lines: int = 2,
         source: str = "hexdocs", text: str = "") -> PageChange:
    return PageChange(source, package, f"{DOCS}/{package}/{name}.html", name.title(), kind,
                      summary=f"+{lines} -0 lines", lines_added=lines, text=text)


def test_bumps_and_stale_lines_flag_skills_after_the_changed_pages_without_touching_them():
    changed = flag_skills([page("ecto", "multi"), page("phoenix_live_view", "streams")],
                          SKILLS)
    bumps = [VersionBump("phoenix", "1.7.0", "1.8.0", BumpKind.MINOR, "https://hex.pm/p",
                         ("phoenix",)),
             VersionBump("ecto", "3.12.0", "3.13.0", BumpKind.MINOR, "https://hex.pm/e",
                         ("ecto",))]
    stale = StaleLine(3, "use Repo.transaction", "Repo.transaction", NoticeKind.DEPRECATED,
                      Evidence("https://hexdocs.pm/ecto/changelog.html", "v3.13", "…"))

    bumped = add_bump_reasons(changed, SKILLS, bumps)
    flagged = add_stale_lines(bumped, SKILLS, {"phoenix": (stale,)})

    assert [f.name for f in changed] == ["liveview", "ecto"]  # in configuration order
    assert [(f.name, [r.change for r in f.reasons], len(f.stale_lines)) for f in flagged] == [
        ("liveview", [ChangeKind.MODIFIED], 0),
        ("ecto", [Item.RELEASE, ChangeKind.MODIFIED], 0),
        ("phoenix", [Item.RELEASE], 1)]
    assert flagged[1].reasons[0].title == "ecto 3.12.0 → 3.13.0"
    assert [len(f.reasons) for f in changed] == [1, 1]  # the earlier flags are unchanged


# -- what the docs announce --------------------------------------------------------------


def test_the_first_notice_of_a_term_is_its_evidence_and_a_vanished_term_was_removed():
    dim = Term("Sparkle.dim/1", TermKind.FUNCTION)
    glow = Term("phx-glow", TermKind.ATTRIBUTE)
    facts = DocsFacts(
        notices=(PageNotice("https://d.test/changelog.html",
                            Notice(dim, NoticeKind.DEPRECATED, "v2 › Deprecations",
                                   "`Sparkle.dim/1` is deprecated.", "Sparkle.fade/1")),
                 PageNotice("https://d.test/guide.html",
                            Notice(dim, NoticeKind.DEPRECATED, "Dimming", "Also deprecated."))),
        gone=(LastTaught(glow, "https://d.test/effects.html", "Effects",
                         "# Effects\n\n## Glowing\n\nAdd `phx-glow` to glow.\n"),))

    findings = docs_findings(facts)

    assert [(f.term, f.kind, f.evidence.url, f.evidence.section, f.replacement)
            for f in findings] == [
        (dim, NoticeKind.DEPRECATED, "https://d.test/changelog.html", "v2 › Deprecations",
         "Sparkle.fade/1"),
        (glow, NoticeKind.REMOVED, "https://d.test/effects.html", "Glowing", None)]
    assert findings[1].evidence.sentence == ("phx-glow is no longer mentioned anywhere in the "
                                             "docs (last taught by Effects)")


def test_the_first_notices_are_the_first_of_each_term_in_page_order_across_packages():
    # An old changelog deprecation of a term the package's guides still teach gives no
    # finding, unless the guides themselves give notice of it; the first of the rest
    # wins, whichever package it is of.
    dim = Term("Sparkle.dim/1", TermKind.FUNCTION)

    def notice(version: str | None) -> Notice:
        return Notice(dim, NoticeKind.DEPRECATED, f"v{version}", "deprecated.",
                      version=version)

    old, newer = notice("1.0.0"), notice("2.0.0")
    pages = [PageNotice("https://hexdocs.pm/a/changelog.html", old),
             PageNotice("https://hexdocs.pm/a/changelog.html", dataclasses.replace(
                 newer, term=Term("Sparkle.glow/1", TermKind.FUNCTION))),
             PageNotice("https://hexdocs.pm/b/changelog.html", old),
             PageNotice("https://hexdocs.pm/b/changelog.html", dataclasses.replace(
                 newer, term=Term("Sparkle.glow/1", TermKind.FUNCTION))),
             PageNotice("https://hexdocs.pm/b/dimming.html", notice(None))]
    guides = {"a": frozenset({"function:Sparkle.dim/1"}),
              "b": frozenset({"function:Sparkle.dim/1"})}

    first = first_notices(pages, guides)

    assert [(f.url, f.notice.term.text, f.notice.version) for f in first] == [
        ("https://hexdocs.pm/a/changelog.html", "Sparkle.glow/1", "2.0.0"),
        ("https://hexdocs.pm/b/changelog.html", "Sparkle.dim/1", "1.0.0")]


# -- one order, however the fetches finished ---------------------------------------------


def crawl_results() -> list[PageChange]:
    """Changes of one run: a dozen large rewrites (more actions than MAX_ACTIONS), a new
    page, a removed one, a post and a release, of three sources."""
    found = [page("phoenix_live_view", f"guide{i}", lines=60, text="stream") for i in range(12)]
    found += [page("phoenix_live_view", "uploads", ChangeKind.ADDED, text="stream"),
              page("phoenix_live_view", "old", ChangeKind.REMOVED, text="stream"),
              PageChange("blog", "blog", "https://blog.test/streams", "Streams",
                         ChangeKind.ADDED, item=Item.POST, text="stream"),
              PageChange("releases", "phoenix_live_view", "https://hex.pm/lv/1.1.0", "lv 1.1.0",
                         ChangeKind.ADDED, item=Item.RELEASE)]
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_report_order_and_the_actions_cut_at_the_maximum_do_not_depend_on_fetch_order(
        seed):
    sources = ["hexdocs", "releases", "blog"]
    expected = in_report_order(crawl_results(), sources)
    shuffled = crawl_results()
    random.Random(seed).shuffle(shuffled)

    changes = in_report_order(shuffled, sources)

    assert changes == expected
    assert [(c.source, c.item, c.change) for c in changes[:3]] == [
        ("hexdocs", Item.PAGE, ChangeKind.ADDED), ("hexdocs", Item.PAGE, ChangeKind.REMOVED),
        ("hexdocs", Item.PAGE, ChangeKind.MODIFIED)]
    assert [c.source for c in changes[-2:]] == ["releases", "blog"]
    [flag] = flag_skills(changes, SKILLS)
    actions = suggest_actions(flag, changes)
    assert actions == suggest_actions(flag_skills(expected, SKILLS)[0], expected)
    assert len(actions) == MAX_ACTIONS
    # A page the skill points at is gone: that comes before what is new.
    assert actions[:3] == ("Drop or redirect references to Old: the page is gone",
                           "Review the new guide Uploads and cover it if it fits",
                           "Re-read Guide0: +60 -0 lines")



def test_a_rewritten_changelog_is_re_read_for_the_versions_it_adds_not_its_line_count():
    changelog = dataclasses.replace(
        page("phoenix", "changelog", lines=240), title="Changelog for v1.8",
        new_sections=("1.8.1 (2025-08-29)", "1.8.0 (2025-08-05)", "1.8.0 (2025-08-05) › Bug fixes",
                      "1.8.0-rc.0 (2025-03-20)"))
    guide = page("phoenix", "routing", lines=240)
    [flag] = flag_skills([changelog, guide], [SkillConfig(name="phoenix",
                                                          watches=[f"{DOCS}/phoenix/*"])])

    actions = suggest_actions(flag, [changelog, guide])

    assert "Re-read Changelog for v1.8: it adds 3 versions, 1.8.0-rc.0 to 1.8.1" in actions
    assert "Re-read Routing: +240 -0 lines" in actions
    one = dataclasses.replace(changelog, new_sections=("1.8.2 (2025-11-26)",))
    assert "Re-read Changelog for v1.8: it adds version 1.8.2" in suggest_actions(
        flag_skills([one], [SkillConfig(name="phoenix", watches=[f"{DOCS}/phoenix/*"])])[0],
        [one])

def test_fetch_problems_are_listed_by_source_then_url_however_the_fetches_finished():
    problems = [FetchProblem("blog", "https://blog.test/feed.xml", "HTTP 500", 3, 500),
                FetchProblem("hexdocs", "https://hexdocs.pm/b.html", "timed out", 3, None),
                FetchProblem("hexdocs", "https://hexdocs.pm/a.html", "HTTP 503", 3, 503)]

    ordered = problems_in_report_order(problems, ["hexdocs", "releases", "blog"])

    assert [p.url.rsplit("/", 1)[-1] for p in ordered] == ["a.html", "b.html", "feed.xml"]
    assert problems_in_report_order(reversed(problems), ["hexdocs", "blog"]) == ordered


# -- the report ----------------------------------------------------------------------------


def test_a_report_is_built_once_and_splits_its_page_changes_by_kind():
    report = Report("Research", dt.date(2025, 3, 2), changes=in_report_order(
        crawl_results(), ["hexdocs", "releases", "blog"]))

    with pytest.raises(dataclasses.FrozenInstanceError):
        report.skills = ()  # type: ignore[misc]
    [group] = report.page_groups
    assert (group.source, group.package) == ("hexdocs", "phoenix_live_view")
    assert ([c.title for c in group.added], [c.title for c in group.removed],
            len(group.modified), group.moved) == (["Uploads"], ["Old"], 12, ())
    assert [c.title for c in report.posts] == ["Streams"]
    assert [c.title for c in report.releases] == ["lv 1.1.0"]


# -- reasons, ranked ---------------------------------------------------------------------


def _reason(url: str, change, watched: bool = True, retires: bool = False) -> FlagReason:
    return FlagReason(url, url.rsplit("/", 1)[-1], change, "why", watched=watched,
                      retires=retires, package=package_of(url) or "")


def test_a_skills_reasons_are_ranked_by_weight_and_the_rest_counted_by_package():
    base = "https://hexdocs.pm"
    reasons = (
        _reason(f"{base}/glimmer/a.html", ChangeKind.MODIFIED, watched=False),  # keyword
        _reason(f"{base}/glimmer/b.html", ChangeKind.MODIFIED),  # watched, modified
        _reason(f"{base}/glimmer/c.html", ChangeKind.ADDED),  # a new guide under a watch
        _reason(f"{base}/glimmer/d.html", ChangeKind.MODIFIED, retires=True),
        _reason("https://hex.pm/packages/glimmer", Item.RELEASE),
        *(_reason(f"{base}/sparkle/{i}.html", ChangeKind.MODIFIED) for i in range(3)),
        _reason("https://example.com/post", ChangeKind.ADDED, watched=False),
    )
    flag = SkillFlag("glimmer-effects", None, reasons)

    assert [r.title for r in flag.top_reasons] == ["glimmer", "d.html", "c.html", "b.html",
                                                   "0.html"]
    assert [(m.package, m.count) for m in flag.more_reasons] == [
        ("sparkle", 2), ("", 1), ("glimmer", 1)]
    assert flag.reasons == reasons  # the JSON keeps every reason, in its order


# -- pre-releases to review when they ship -----------------------------------------------


def release(name: str, version: str, prerelease: bool) -> PageChange:
    return PageChange("releases", name, f"https://hex.pm/packages/{name}/{version}",
                      f"{name} {version}", ChangeKind.ADDED, item=Item.RELEASE,
                      meta=ItemMeta(package=name, version=version, prerelease=prerelease,
                                    docs_url=f"{DOCS}/{name}/{version}/"))


def test_a_pre_release_ahead_of_the_stable_version_is_to_review_when_it_ships():
    changes = [package_change("phoenix", "1.8.3", "1.8.4"),
               release("phoenix", "1.9.0-rc.0", True), release("phoenix", "1.9.0-rc.1", True),
               release("phoenix", "1.8.0-rc.2", True),  # left behind by 1.8.4: history
               release("ecto", "3.13.0", False), release("ecto", "3.13.0-rc.1", True)]

    [ahead] = prereleases_ahead(changes, SKILLS)

    assert (ahead.package, ahead.version, ahead.stable, ahead.skills) == (
        "phoenix", "1.9.0-rc.1", "1.8.4", ("phoenix",))
