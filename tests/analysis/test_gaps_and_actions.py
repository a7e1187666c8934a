"""What a report's changes mean: skill gaps, key takeaways and suggested actions.

Each analyser of crawler.analysis is called with its inputs built directly from the
fact dataclasses; the configuration is a small sources.yaml loaded by the real loader,
with one skill file from tests/fixtures/skills.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.analysis.actions import suggest_actions
from crawler.analysis.bumps import VersionBump
from crawler.analysis.facts import PageChange
from crawler.analysis.findings import Evidence
from crawler.analysis.flags import FlagReason, SkillFlag
from crawler.analysis.gaps import closest_skill, find_gaps
from crawler.analysis.keywords import keyword_pattern, mentioned_keywords, mentions_any
from crawler.analysis.skill_files import read_skill_files
from crawler.analysis.stale import StaleLine
from crawler.analysis.takeaways import MAX_TAKEAWAYS, takeaways
from crawler.config import SkillConfig, load_config
from crawler.types import BumpKind, Item, NoticeKind

FORMS_SKILL = Path(__file__).parents[1] / "fixtures" / "skills" / "sparkle-forms" / "SKILL.md"
DOCS = "https://hexdocs.pm/sparkle"
OTHER = "https://hexdocs.pm/glitter"


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(f"""
sources: []
skills:
  - name: sparkle-forms
    path: {FORMS_SKILL}
    watches: ["{DOCS}/forms.html", "{DOCS}/validation.html"]
    keywords: [changeset]
  - name: sparkle-routing
    watches: ["{DOCS}/routing.html"]
    keywords: [Sparkle.Router]
  - name: glitter-forms
    watches: ["{OTHER}/*"]
""")
    return load_config(path)


# Sidebar groups of the pages the database knows, as build_report passes them.
GROUPS = {
    f"{DOCS}/forms.html": "Forms",
    f"{DOCS}/validation.html": "Forms",
    f"{DOCS}/uploads.html": "Forms",
    f"{DOCS}/routing.html": "Routing",
    f"{DOCS}/deployment.html": "Deployment",
    f"{OTHER}/forms.html": "Forms",
    f"{OTHER}/inputs.html": "Forms",
}


def added(page: str, title: str, group: str, text: str = "", package: str = "sparkle",
          root: str = DOCS) -> PageChange:
    return PageChange("docs", package, f"{root}/{page}", title, "added", group=group,
                      text=text)


# -- closest_skill / find_gaps: pages ---------------------------------------------------


def test_closest_skill_watches_the_same_group_in_the_same_docs(config):
    # glitter-forms watches more "Forms" pages, but of another package.
    assert closest_skill(f"{DOCS}/uploads.html", "Forms", config.skills, GROUPS) \
        == "sparkle-forms"
    assert closest_skill(f"{DOCS}/deployment.html", "Deployment", config.skills, GROUPS) is None


def test_new_page_nobody_watches_is_a_gap_with_the_closest_skill(config):
    change = added("uploads.html", "Uploads", "Forms", "Accept files from the browser.")

    gaps = find_gaps([change], config.skills, GROUPS, read_skill_files(config))

    assert [(g.kind, g.title, g.url, g.suggested_skill, g.new_skill) for g in gaps] == [
        ("page", "Uploads", f"{DOCS}/uploads.html", "sparkle-forms", None)]
    assert gaps[0].suggestion == "closest skill: sparkle-forms"


def test_new_page_in_an_unwatched_group_proposes_a_new_skill(config):
    change = added("deployment.html", "Deploying to Fly", "Deployment", "Ship a release.")

    gaps = find_gaps([change], config.skills, GROUPS, read_skill_files(config))

    assert [(g.kind, g.suggested_skill, g.new_skill) for g in gaps] == [
        ("page", None, "sparkle-deployment")]
    assert gaps[0].suggestion == "propose a new skill: sparkle-deployment"


def test_new_page_that_mentions_a_skill_keyword_is_not_a_gap(config):
    change = added("uploads.html", "Uploads", "Forms", "Uploads go through the changeset.")

    assert find_gaps([change], config.skills, GROUPS, read_skill_files(config)) == ()


def test_new_page_that_a_skill_watches_is_not_a_gap(config):
    change = added("inputs.html", "Inputs", "Forms", "Text inputs.", package="glitter",
                   root=OTHER)

    assert find_gaps([change], config.skills, GROUPS, read_skill_files(config)) == ()


# -- find_gaps: sections and terms -------------------------------------------------------


def modified(page: str, title: str, group: str = "", package: str = "sparkle",
             new_sections=(), new_terms=()) -> PageChange:
    return PageChange("docs", package, f"{DOCS}/{page}", title, "modified", group=group,
                      lines_added=5, new_sections=tuple(new_sections),
                      new_terms=tuple(new_terms))


def test_new_sections_of_an_unwatched_page_are_section_gaps(config):
    gaps = find_gaps([
        modified("deployment.html", "Deployment", "Deployment",
                 new_sections=["Clustering", "Changeset tips"]),
        modified("routing.html", "Routing", "Routing", new_sections=["Verified routes"]),
    ], config.skills, GROUPS, read_skill_files(config))

    # "Changeset tips" mentions a keyword; Routing is watched.
    assert [(g.kind, g.title, g.new_skill) for g in gaps] == [
        ("section", "Deployment › Clustering", "sparkle-deployment")]


def test_new_version_sections_of_a_changelog_are_not_gaps(config):
    change = modified("changelog.html", "Changelog", new_sections=["2.0.0"])

    assert find_gaps([change], config.skills, GROUPS, read_skill_files(config)) == ()


def test_newly_taught_terms_are_gaps_unless_generic_or_already_taught(config):
    change = modified("deployment.html", "Deployment", "Deployment", package="sparkle_live",
                      new_terms=["mix_task:mix deps.get", "module:MyApp.Repo",
                                 "function:MyApp.Accounts.get_user!/1", "option::timeout",
                                 "attribute:phx-debounce", "module:Sparkle.Router",
                                 "attribute:phx-sparkle", "module:Sparkle.NewThing",
                                 "mix_task:mix sparkle.gen.live"])

    gaps = find_gaps([change], config.skills, GROUPS, read_skill_files(config))

    # phx-debounce is taught by the forms SKILL.md, Sparkle.Router is a keyword.
    assert [(g.kind, g.title) for g in gaps] == [
        ("term", "phx-sparkle"), ("term", "mix sparkle.gen.live"),
        ("term", "Sparkle.NewThing")]


# -- takeaways ---------------------------------------------------------------------------


def bump(package: str, old: str, new: str, kind: str) -> VersionBump:
    return VersionBump(package, old, new, BumpKind(kind), f"https://hex.pm/packages/{package}",
                       ("sparkle-forms",) if kind in ("major", "minor") else ())


def test_takeaways_rank_releases_then_deprecations_then_new_guides():
    deprecating = PageChange(
        "docs", "sparkle", f"{DOCS}/changelog.html", "Changelog", "modified", lines_added=4,
        new_notices=({"term": "Sparkle.dim/1", "kind": "deprecated", "term_kind": "function",
                      "section": "v2.0.0 › Deprecations", "sentence": "…",
                      "replacement": None},))
    small_edit = PageChange("docs", "sparkle", f"{DOCS}/routing.html", "Routing", "modified",
                            lines_added=2, lines_removed=1)
    found = takeaways(
        bumps=[bump("ecto_lite", "3.12.0", "3.13.0", "minor"),
               bump("glitter", "1.0.1", "1.0.2", "patch"),
               bump("sparkle", "1.8.0", "2.0.0", "major")],
        changes=[small_edit, deprecating, added("uploads.html", "Uploads", "Forms"),
                 added("deployment.html", "Deployment", "Deployment")],
        flags=[], errors=[])

    assert [t.text.split(":")[0] for t in found] == [
        "sparkle 1.8.0 → 2.0.0", "ecto_lite 3.12.0 → 3.13.0", "Changelog",
        "2 new guides in sparkle"]
    assert "major release; review sparkle-forms" in found[0].text
    assert "Sparkle.dim/1 deprecated" in found[2].text
    assert "Uploads, Deployment" in found[3].text
    assert [t.url for t in found] == ["https://hex.pm/packages/sparkle",
                                      "https://hex.pm/packages/ecto_lite",
                                      f"{DOCS}/changelog.html", f"{DOCS}/uploads.html"]
    assert not any("Routing" in t.text or "glitter" in t.text for t in found)


def test_takeaways_are_capped_and_each_has_a_url():
    changes = [PageChange("docs", "sparkle", f"{DOCS}/g{i}.html", f"Guide {i}", "modified",
                          new_notices=({"term": f"phx-old-{i}", "kind": "removed",
                                        "term_kind": "attribute", "section": "",
                                        "sentence": "…", "replacement": None},))
               for i in range(10)]

    found = takeaways(changes=changes, bumps=[bump("sparkle", "1.0.0", "2.0.0", "major")],
                      flags=[], errors=[])

    assert len(found) == MAX_TAKEAWAYS
    assert found[0].text.startswith("sparkle 1.0.0 → 2.0.0")
    assert all(t.url.startswith("https://") for t in found)


def test_nothing_significant_gives_no_takeaway():
    small_edit = PageChange("docs", "sparkle", f"{DOCS}/routing.html", "Routing", "modified",
                            lines_added=2, lines_removed=1)

    assert takeaways(changes=[small_edit], bumps=[], flags=[], errors=[]) == ()


# -- suggest_actions ---------------------------------------------------------------------


def test_actions_put_stale_lines_first_then_what_the_skill_watches_then_posts():
    post = PageChange("blog", "blog", "https://blog.test/sparkle-2", "Sparkle 2 is out",
                      "added", item="post")
    guide = added("uploads.html", "Uploads", "Forms")
    changelog = modified("changelog.html", "Changelog", new_sections=["2.0.0"])
    forms = modified("forms.html", "Forms", "Forms", new_sections=["Nested inputs"])
    flag = SkillFlag("sparkle-forms", str(FORMS_SKILL), reasons=tuple(
        FlagReason(c.url, c.title, c.change, "watches it", watched=c.item == Item.PAGE)
        for c in (post, guide, changelog, forms)),
        stale_lines=(StaleLine(8, 'Slow down chatty inputs with `phx-debounce="300"`.',
                               "phx-debounce", NoticeKind.DEPRECATED,
                               Evidence(f"{DOCS}/changelog.html", "v2.0.0 › Deprecations",
                                        "`phx-debounce` is deprecated."),
                               "phx-throttle"),))

    actions = suggest_actions(flag, [post, guide, changelog, forms])

    assert list(actions) == [
        "Update line 8: phx-debounce is deprecated; use phx-throttle "
        "(see v2.0.0 › Deprecations)",
        "Review the new guide Uploads and cover it if it fits",
        "Add a section about Nested inputs (new in Forms)",
        "Read the new post Sparkle 2 is out",
    ]
    # The changelog's new "2.0.0" section is a version, not a topic to add.
    assert not any("2.0.0 (new in" in a for a in actions)


def test_many_pages_with_the_same_follow_up_are_one_action_naming_the_first_few():
    gone = [PageChange("docs", "sparkle", f"{DOCS}/old-{i}.html", f"Old {i}", "removed")
            for i in range(400)]
    new = [added(f"new-{i}.html", f"New {i}", "Forms") for i in range(2)]
    changes = [*gone, *new]
    flag = SkillFlag("sparkle-forms", None, reasons=tuple(
        FlagReason(c.url, c.title, c.change, "watches it", watched=True) for c in changes))

    actions = suggest_actions(flag, changes)

    assert list(actions) == [
        "Drop or redirect references to the 400 pages that are gone: Old 0, Old 1, Old 2 …",
        # Two of a kind stay two: only a crowd is summed up.
        "Review the new guide New 0 and cover it if it fits",
        "Review the new guide New 1 and cover it if it fits",
    ]


# -- keyword and watch matching (crawler.analysis.keywords) -----------------------------


@pytest.mark.parametrize(("keyword", "text", "expected"), [
    ("stream", "Use Stream.map", True),
    ("stream", "an upstream proxy", False),
    ("stream", "stream_insert/3 and streams", False),
    ("stream", "upstream, then a STREAM", True),
    # re.IGNORECASE also lets s, i and k match these: the pre-filter must agree.
    ("stream", "\u017ftream", True),
    ("ink", "\u0130nk", True),
    ("kelvin", "\u212aelvin", True),
    ("Phoenix.Token", "phoenix.token", False),
    ("Phoenix.Token", "see Phoenix.Token.sign/4", True),
    ("pipeline :api", "pipeline :API do", True),
])
def test_keyword_mentions_follow_the_keyword_pattern(keyword, text, expected):
    skill = SkillConfig(name="s", keywords=[keyword])

    assert (mentioned_keywords(skill, text) == [keyword]) is expected
    assert bool(keyword_pattern(keyword).search(text)) is expected
    assert mentions_any([skill], text) is expected


def test_watches_url_is_the_first_matching_watch(config):
    forms, _, glitter = config.skills

    assert forms.watches_url(f"{DOCS}/validation.html") == f"{DOCS}/validation.html"
    assert glitter.watches_url(f"{OTHER}/deep/page.html") == f"{OTHER}/*"
    assert forms.watches_url(f"{DOCS}/uploads.html") is None


def test_closest_skill_is_worked_out_per_folder_and_group(config):
    # Same group, different docs: each page gets the skill of its own docs.
    shimmer = "https://hexdocs.pm/shimmer"
    changes = [added("uploads.html", "Uploads", "Forms"),
               added("checkboxes.html", "Checkboxes", "Forms", package="shimmer", root=shimmer),
               added("dropzones.html", "Dropzones", "Forms")]

    gaps = find_gaps(changes, config.skills, GROUPS, read_skill_files(config))

    assert [(g.title, g.suggested_skill, g.new_skill) for g in gaps] == [
        ("Uploads", "sparkle-forms", None), ("Checkboxes", None, "shimmer-forms"),
        ("Dropzones", "sparkle-forms", None)]
