"""crawler.hexdocs: one identity for ``hexdocs.pm/<pkg>/…`` and ``<pkg>.hexdocs.pm/…``.

Since 1 June 2026 hexdocs.pm serves each package from its own subdomain, underscores
becoming dashes. A page, a watch glob or a URL typed into ``docwatch history`` must
mean the same thing in either form, on hexdocs.pm itself and on a mirror that serves
hosts as the first path segment (``http://mirror/hexdocs.pm/…``). Anything else is
left exactly as it is.
"""

from __future__ import annotations

import pytest

from crawler.analysis.bumps import skills_covering
from crawler.config import SkillConfig
from crawler.hexdocs import package_of, url_forms, url_key
from crawler.history import url_variants

MIRROR = "http://127.0.0.1:8765"

# (path form, subdomain form, package): the same page or root in both forms.
PAIRS = [
    ("https://hexdocs.pm/phoenix_live_view/welcome.html",
     "https://phoenix-live-view.hexdocs.pm/welcome.html", "phoenix_live_view"),
    ("https://hexdocs.pm/phoenix/routing.html", "https://phoenix.hexdocs.pm/routing.html",
     "phoenix"),
    ("https://hexdocs.pm/phoenix_live_view/bindings.md",
     "https://phoenix-live-view.hexdocs.pm/bindings.md", "phoenix_live_view"),
    ("https://hexdocs.pm/ecto/Ecto.Changeset.html#cast/4",
     "https://ecto.hexdocs.pm/Ecto.Changeset.html#cast/4", "ecto"),
    ("https://hexdocs.pm/phoenix/1.7.14/overview.html",
     "https://phoenix.hexdocs.pm/1.7.14/overview.html", "phoenix"),
    ("https://hexdocs.pm/ecto_sql/search.html?q=migration",
     "https://ecto-sql.hexdocs.pm/search.html?q=migration", "ecto_sql"),
    ("https://hexdocs.pm/phoenix_live_view/", "https://phoenix-live-view.hexdocs.pm/",
     "phoenix_live_view"),
    ("https://hexdocs.pm/phoenix_live_view", "https://phoenix-live-view.hexdocs.pm",
     "phoenix_live_view"),
    (f"{MIRROR}/hexdocs.pm/phoenix_live_view/welcome.html",
     f"{MIRROR}/phoenix-live-view.hexdocs.pm/welcome.html", "phoenix_live_view"),
    (f"{MIRROR}/hexdocs.pm/phoenix_live_view/welcome.md#top",
     f"{MIRROR}/phoenix-live-view.hexdocs.pm/welcome.md#top", "phoenix_live_view"),
    (f"{MIRROR}/hexdocs.pm/ecto/", f"{MIRROR}/ecto.hexdocs.pm/", "ecto"),
    (f"{MIRROR}/hexdocs.pm/ecto", f"{MIRROR}/ecto.hexdocs.pm", "ecto"),
]


@pytest.mark.parametrize(("path_form", "subdomain_form", "package"), PAIRS)
def test_both_forms_have_one_identity_the_path_form(path_form, subdomain_form, package):
    assert url_key(path_form) == path_form
    assert url_key(subdomain_form) == path_form


@pytest.mark.parametrize(("path_form", "subdomain_form", "package"), PAIRS)
def test_the_forms_of_a_url_are_itself_then_the_other(path_form, subdomain_form, package):
    assert url_forms(path_form) == [path_form, subdomain_form]
    assert url_forms(subdomain_form) == [subdomain_form, path_form]


@pytest.mark.parametrize(("path_form", "subdomain_form", "package"), PAIRS)
def test_the_package_is_read_from_either_form(path_form, subdomain_form, package):
    assert package_of(path_form) == package_of(subdomain_form) == package


def test_a_host_written_in_capitals_is_the_same_page():
    assert url_key("https://Phoenix-Live-View.HexDocs.pm/welcome.html") == \
        "https://hexdocs.pm/phoenix_live_view/welcome.html"
    assert url_key(f"{MIRROR}/ECTO.hexdocs.pm/index.html") == f"{MIRROR}/hexdocs.pm/ecto/index.html"


# --- globs (skills' watches) ------------------------------------------------------------------


@pytest.mark.parametrize(("glob", "key"), [
    ("https://*.hexdocs.pm/*", "https://hexdocs.pm/*/*"),
    ("https://phoenix-live-view.hexdocs.pm/*", "https://hexdocs.pm/phoenix_live_view/*"),
    ("https://phoenix-*.hexdocs.pm/*.html", "https://hexdocs.pm/phoenix_*/*.html"),
    ("https://hexdocs.pm/phoenix/*", "https://hexdocs.pm/phoenix/*"),
    (f"{MIRROR}/*.hexdocs.pm/*", f"{MIRROR}/hexdocs.pm/*/*"),
    (f"{MIRROR}/phoenix.hexdocs.pm/live_view.html", f"{MIRROR}/hexdocs.pm/phoenix/live_view.html"),
])
def test_globs_fold_like_urls(glob, key):
    assert url_key(glob) == key


@pytest.mark.parametrize(("watch", "url", "matches"), [
    ("https://*.hexdocs.pm/*", "https://hexdocs.pm/ecto/Ecto.Query.html", True),
    ("https://*.hexdocs.pm/*", "https://phoenix-live-view.hexdocs.pm/welcome.html", True),
    ("https://hexdocs.pm/phoenix_live_view/*", "https://phoenix-live-view.hexdocs.pm/a.html",
     True),
    ("https://phoenix-live-view.hexdocs.pm/*", "https://hexdocs.pm/phoenix_live_view/a.html",
     True),
    ("https://phoenix.hexdocs.pm/*", "https://hexdocs.pm/phoenix_live_view/a.html", False),
    ("https://hexdocs.pm/phoenix/*", "https://phoenix-live-view.hexdocs.pm/a.html", False),
    (f"{MIRROR}/hexdocs.pm/ecto/*", f"{MIRROR}/ecto.hexdocs.pm/getting-started.html", True),
    (f"{MIRROR}/ecto.hexdocs.pm/*", f"{MIRROR}/hexdocs.pm/ecto/getting-started.html", True),
    ("https://hexdocs.pm/ecto/*", f"{MIRROR}/ecto.hexdocs.pm/getting-started.html", False),
])
def test_a_watch_matches_a_page_in_either_form(watch, url, matches):
    skill = SkillConfig(name="s", watches=[watch])
    assert (skill.watches_url(url) == watch) is matches


# --- what is not a hexdocs package URL is left alone ------------------------------------------


@pytest.mark.parametrize("url", [
    "https://hexdocs.pm/",
    "https://hexdocs.pm",
    "https://hex.pm/packages/phoenix",
    "https://hexorgs.pm/acme/guide.html",
    "https://acme.hexorgs.pm/guide.html",
    "https://phoenix_live_view.hexdocs.pm/welcome.html",  # no `_` in a DNS label
    f"{MIRROR}/phoenix_live_view.hexdocs.pm/welcome.html",
    "https://hexdocs.pm/phoenix-live-view/welcome.html",  # no `-` in a package name
    "https://a.b.hexdocs.pm/guide.html",
    "https://hexdocs.pm.example.com/phoenix/guide.html",
    "https://nothexdocs.pm/phoenix/guide.html",
    "https://elixir-lang.org/blog/2025/12/19/elixir-v1-19-released/",
    f"{MIRROR}/elixir-lang.org/atom.xml",
    f"{MIRROR}/lumen/routing.html",
    f"{MIRROR}/hexdocs.pm/",
    "not a url",
    "",
])
def test_other_urls_are_unchanged(url):
    assert url_key(url) == url
    assert url_forms(url) == [url]
    assert package_of(url) is None


def test_history_finds_a_page_by_any_spelling_in_either_form():
    stored = "https://hexdocs.pm/phoenix_live_view/bindings.html"
    for typed in ("https://phoenix-live-view.hexdocs.pm/bindings.md",
                  "https://phoenix-live-view.hexdocs.pm/bindings.html#dom-patching",
                  "https://phoenix-live-view.hexdocs.pm/bindings.html/",
                  "https://hexdocs.pm/phoenix_live_view/bindings.md"):
        variants = url_variants(typed)
        assert stored in variants, typed
        assert "https://phoenix-live-view.hexdocs.pm/bindings.html" in variants, typed


# --- release bumps: the skill that watches the package's docs ---------------------------------


SKILLS = [
    SkillConfig(name="liveview-old", watches=["https://hexdocs.pm/phoenix_live_view/*"]),
    SkillConfig(name="liveview-new", watches=["https://phoenix-live-view.hexdocs.pm/*"]),
    SkillConfig(name="liveview-page", watches=["https://phoenix-live-view.hexdocs.pm/bindings.html"]),
    SkillConfig(name="phoenix-old", watches=["https://hexdocs.pm/phoenix/*"]),
    SkillConfig(name="phoenix-new", watches=["https://phoenix.hexdocs.pm/routing.html"]),
    SkillConfig(name="everything", watches=["https://*.hexdocs.pm/*"]),
    SkillConfig(name="mirror", watches=[f"{MIRROR}/hexdocs.pm/phoenix_live_view/*"]),
    SkillConfig(name="blog", watches=["https://elixir-lang.org/blog/*"]),
]


@pytest.mark.parametrize("docs_root", ["https://phoenix-live-view.hexdocs.pm/",
                                       "https://hexdocs.pm/phoenix_live_view/"])
def test_a_release_names_the_skills_watching_its_docs_in_either_form(docs_root):
    assert skills_covering(SKILLS, docs_root) == [
        "liveview-old", "liveview-new", "liveview-page", "everything"]


@pytest.mark.parametrize("docs_root", ["https://phoenix.hexdocs.pm/", "https://hexdocs.pm/phoenix/"])
def test_a_package_whose_name_prefixes_another_names_only_its_own_skills(docs_root):
    assert skills_covering(SKILLS, docs_root) == ["phoenix-old", "phoenix-new", "everything"]


@pytest.mark.parametrize("docs_root", [f"{MIRROR}/phoenix-live-view.hexdocs.pm/",
                                       f"{MIRROR}/hexdocs.pm/phoenix_live_view/"])
def test_a_mirror_release_names_the_skill_watching_the_mirror(docs_root):
    assert skills_covering(SKILLS, docs_root) == ["mirror"]


def test_a_package_without_docs_names_no_skill():
    assert skills_covering(SKILLS, "") == []
    assert skills_covering(SKILLS, "https://ecto.hexdocs.pm/") == ["everything"]
