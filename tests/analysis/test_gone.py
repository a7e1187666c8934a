"""Which terms the docs stopped teaching (crawler.analysis.gone), on pages in memory.

Each test lays out a package's pages as a crawl would have stored them: the text an
earlier run held (``old``), the current text (None: the page left the index), whether
this crawl fetched the package. The end-to-end tests through real crawls are in
``test_gone_crawl.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crawler.analysis import gone
from crawler.notices import notices
from crawler.types import TermKind
from crawler.vocab import Term, is_changelog, vocabulary

HEX = "https://hexdocs.pm"


@dataclass(frozen=True)
class Page:
    url: str
    old: str | None = None
    text: str | None = ""  # None: no longer listed

    @property
    def package(self) -> str:
        return gone.package_key(self.url, "docs")


def taught_of(pages: list[Page], fetched: frozenset[str] | None = None):
    """The :class:`gone.Taught` of ``pages`` (each ``old`` an earlier snapshot), how the
    current texts are searched, and the earlier texts by snapshot."""
    current = [p for p in pages if p.text is not None]
    packages = {p.package: fetched is None or p.package in fetched for p in current}
    documented: dict[str, frozenset[str]] = {}
    for p in pages:
        if module := gone.page_module(p.url):
            documented[p.package] = documented.get(p.package, frozenset()) | {module}
    vocab = frozenset(e for p in current for e in gone.expand(vocabulary(p.text or ""), p.url))
    taught = gone.Taught(gone.CurrentDocs(vocab, packages, documented))
    olds = {i: p.old for i, p in enumerate(pages) if p.old is not None}
    for i, old in olds.items():
        page = pages[i]
        stored = [n.as_dict() for n in notices(old, is_changelog(page.url, ""))]
        taught.add(vocabulary(old), gone.Teacher(i, 1, page.url, "", page.package,
                                                 page.text is not None),
                   gone.announced(stored), gone.retired_usages(stored))

    def mentioned(terms, retired):
        return gone.still_mentioned(
            [(gone.page_module(p.url), p.text or "", is_changelog(p.url, ""))
             for p in current], terms, retired)

    return taught, mentioned, olds


def gone_of(pages: list[Page], fetched: frozenset[str] | None = None,
            crawled_only: bool = True) -> dict[str, str]:
    """The gone terms (text: kind) and the URL of their evidence; ``fetched``: the
    packages this crawl fetched (None: all)."""
    taught, mentioned, olds = taught_of(pages, fetched)
    found = gone.gone_terms(taught, mentioned, lambda ids: ((i, olds[i]) for i in ids),
                            crawled_only=crawled_only)
    return {f"{t.kind}:{t.text}": teacher.url for t, teacher in found.items()}


# -- the parts ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", [f"{HEX}/phoenix_live_view/bindings.html",
                                 "https://phoenix-live-view.hexdocs.pm/bindings.html",
                                 "http://127.0.0.1:8000/hexdocs.pm/phoenix_live_view/"])
def test_a_page_belongs_to_its_hexdocs_package_in_either_url_form(url):
    assert gone.package_key(url, "hexdocs") == "phoenix_live_view"


def test_a_page_outside_hexdocs_belongs_to_its_source():
    assert gone.package_key("https://docs.example.com/guide.html", "guides") == "source:guides"


@pytest.mark.parametrize(("url", "module"), [
    (f"{HEX}/phoenix/Phoenix.Router.html", "Phoenix.Router"),
    ("https://ecto.hexdocs.pm/Ecto.md", "Ecto"),
    (f"{HEX}/phoenix/Mix.Tasks.Phx.Gen.Auth.html", "Mix.Tasks.Phx.Gen.Auth"),
    (f"{HEX}/phoenix/overview.html", None),
    (f"{HEX}/phoenix/README.html", None),
])
def test_a_module_page_is_told_by_its_name(url, module):
    assert gone.page_module(url) == module


@pytest.mark.parametrize(("package", "module", "owned"), [
    ("phoenix_live_view", "Phoenix.LiveView.JS", True),
    ("phoenix_html", "Phoenix.HTML.Form", True),
    ("ecto", "Ecto.Multi", True),
    ("phoenix", "Ecto.Multi", False),  # named by Phoenix's guides, Ecto's API
    ("phoenix", "MyAppWeb.CartLive", False),  # an app's own module
    ("phoenix_live_view", "Phoenix.LiveViewTest", False),  # not its name, no page of it
    ("source:glimmer", "Glimmer.Palette", True),
])
def test_a_module_is_owned_by_the_package_its_name_spells(package, module, owned):
    assert gone.owns(package, module) is owned


def test_a_module_with_a_page_in_the_package_is_owned_by_it():
    assert gone.owns("phoenix_live_view", "Phoenix.LiveViewTest.Element",
                     frozenset({"Phoenix.LiveViewTest"}))


def test_a_module_page_qualifies_its_bare_functions_and_a_call_names_its_module():
    entries = ["function:blend/3", "function:Ecto.Multi.run/5", "option:ratio"]

    assert gone.expand(entries, f"{HEX}/glimmer/Glimmer.Palette.html") == {
        *entries, "function:Glimmer.Palette.blend/3", "module:Glimmer.Palette",
        "module:Ecto.Multi"}
    assert gone.expand(entries, f"{HEX}/glimmer/guide.html") == {*entries, "module:Ecto.Multi"}


def test_still_mentioned_finds_terms_in_code_and_bare_on_their_module_page():
    blend = Term("Glimmer.Palette.blend/3", TermKind.FUNCTION)
    radius = Term(":radius", TermKind.OPTION)
    glow = Term("phx-glow", TermKind.ATTRIBUTE)
    texts = [(None, "Call it:\n```\nGlimmer.glow(el, radius: 4)\n```"),
             ("Glimmer.Palette", "# Glimmer.Palette\n\n### blend(a, b, ratio)\n"),
             (None, "<div phx-glowing>")]

    assert gone.still_mentioned(texts, [blend, radius, glow]) == {blend, radius}
    # A bare blend( elsewhere than on its module's page is anyone's blend.
    assert gone.still_mentioned([(None, "blend(a, b, 0.5)")], [blend]) == set()


def test_still_mentioned_reads_words_when_the_terms_are_many():
    terms = [Term(f":option_{n}", TermKind.OPTION) for n in range(gone.FEW_WORDS + 1)]
    texts = [(None, "Pass `option_7: true` to it; :option_70 is gone.")] * 2

    assert gone.still_mentioned(texts, terms) == {terms[7], terms[70]}


# -- the rule ------------------------------------------------------------------------------

GUIDE = f"{HEX}/glimmer/effects.html"


def test_a_function_a_listed_guide_named_twice_is_gone_once_dropped():
    twice = "# Effects\n\nUse `Glimmer.Palette.mix/2`; `Glimmer.Palette.mix/2` is slow.\n"

    # Glimmer.Palette too: no page names it any more, and twice was as the prefix.
    assert gone_of([Page(GUIDE, twice, "# Effects\n\nPick one colour.\n")]) == {
        "function:Glimmer.Palette.mix/2": GUIDE, "module:Glimmer.Palette": GUIDE}
    kept = "# Effects\n\nPick one colour of `Glimmer.Palette`.\n"
    assert gone_of([Page(GUIDE, twice, kept)]) == {"function:Glimmer.Palette.mix/2": GUIDE}


def test_a_function_named_once_in_passing_is_not_gone():
    once = "# Effects\n\nUse `Glimmer.Palette.mix/2` then, see `Glimmer.Palette`.\n"

    assert gone_of([Page(GUIDE, once, "# Effects\n\nSee `Glimmer.Palette`.\n")]) == {}


def test_a_function_named_by_a_module_page_is_gone_once_dropped():
    page = f"{HEX}/glimmer/Glimmer.Palette.html"
    old = "# Glimmer.Palette\n\n`blend/3` mixes colours; `darken/2` darkens.\n"

    assert gone_of([Page(page, old, "# Glimmer.Palette\n\n`darken/2` darkens.\n")]) == {
        "function:Glimmer.Palette.blend/3": page}


def test_a_function_named_once_goes_with_its_module():
    old = "# Effects\n\nTimers run under `Glimmer.Timer`: see `Glimmer.Timer.start/1`.\n"

    assert gone_of([Page(GUIDE, old, "# Effects\n\nEffects repeat.\n")]) == {
        "module:Glimmer.Timer": GUIDE, "function:Glimmer.Timer.start/1": GUIDE}


def test_an_option_needs_two_mentions_by_listed_pages_of_one_package():
    old = "# Deployment\n\nBind the server with its `:ip` option.\n"
    twin = f"{HEX}/glimmer_twin/deployment.html"
    pages = [Page(f"{HEX}/glimmer/deployment.html", old, "# Deployment\n"),
             Page(twin, old, "# Deployment\n")]

    # Named once by each of two packages: once in passing twice, not taught twice.
    assert gone_of(pages) == {}
    assert gone_of([Page(GUIDE, old + "The `:ip` is an address.\n", "# Deployment\n")]) == {
        "option::ip": GUIDE}


def test_a_page_that_left_the_index_teaches_nothing_by_its_mentions():
    # Its text may have moved where the crawl does not look (a module's own docs).
    old = ("# Multi\n\n`Glimmer.Multi.run/3` and `:retries`; again `Glimmer.Multi.run/3`, "
           "`:retries`.\n")
    pages = [Page(f"{HEX}/glimmer/multi.html", old, None), Page(GUIDE, None, "# Effects\n")]

    assert gone_of(pages) == {}


def test_a_module_page_that_left_the_index_takes_its_module_and_functions():
    page = f"{HEX}/glimmer/Glimmer.Sparkle.html"
    pages = [Page(page, "# Glimmer.Sparkle\n\n`burst/1` throws sparks.\n", None),
             Page(GUIDE, None, "# Effects\n\nSee `Glimmer.Palette`.\n")]

    assert gone_of(pages) == {"module:Glimmer.Sparkle": page,
                              "function:Glimmer.Sparkle.burst/1": page}


def test_names_of_an_app_or_another_library_never_go():
    old = ("# Carts\n\n`MyAppWeb.CartLive` calls `refresh_cart/1`, `refresh_cart/1` calls "
           "`Jason.encode!/1`; `MyAppWeb.CartLive` and `Jason.encode!/1` again.\n")

    assert gone_of([Page(GUIDE, old, "# Carts\n")]) == {}


def test_a_changelog_trimmed_of_old_entries_retires_nothing():
    changelog = f"{HEX}/glimmer/changelog.html"
    old = ("# Changelog\n\n## v0.4.0\n\n* Add `Glimmer.Palette.tint/2`, `Glimmer.Palette.tint/2`,"
           " `<.glow_button>`, `:pulse` and `:pulse`, `phx-glow` and `mix glimmer.gen`\n")

    assert gone_of([Page(changelog, old, "# Changelog\n\n## v1.0.0\n")]) == {}


def test_a_component_no_page_shows_any_more_is_gone():
    old = "# Forms\n\nWrap the fields in `<.simple_form>`.\n"

    assert gone_of([Page(GUIDE, old, "# Forms\n\nWrap the fields in `<.form>`.\n")]) == {
        "component:<.simple_form>": GUIDE}
    kept = "# Forms\n\nWrap them:\n```\n<.simple_form for={@form}>\n```\n"
    assert gone_of([Page(GUIDE, old, kept)]) == {}


def test_a_package_without_current_pages_retires_nothing():
    legacy = f"{HEX}/glimmer_legacy/Glimmer.Legacy.html"
    pages = [Page(legacy, "# Glimmer.Legacy\n\n`pulse/1` and `phx-pulse`.\n", None),
             Page(GUIDE, None, "# Effects\n")]

    assert gone_of(pages) == {}


def test_a_package_this_crawl_did_not_fetch_retires_nothing_unless_asked_for_evidence():
    page = f"{HEX}/glimmer/Glimmer.Palette.html"
    pages = [Page(page, "# Glimmer.Palette\n\n`blend/3` and `phx-blend`.\n", "# Glimmer.Palette\n"),
             Page(f"{HEX}/lumen/overview.html", None, "# Lumen\n")]

    assert gone_of(pages, fetched=frozenset({"lumen"})) == {}
    # What docwatch prune keeps: the evidence, for the run that fetches glimmer again.
    assert gone_of(pages, fetched=frozenset({"lumen"}), crawled_only=False) == {
        "function:Glimmer.Palette.blend/3": page, "attribute:phx-blend": page}


def test_the_evidence_is_a_guide_before_a_changelog_then_the_most_mentions_then_the_url():
    once, twice = "`phx-glow`.\n", "`phx-glow` and `phx-glow`.\n"
    pages = [Page(f"{HEX}/glimmer/changelog.html", "# Changelog\n\n" + twice * 3, "# Changelog\n"),
             Page(f"{HEX}/glimmer/a.html", "# A\n\n" + once, "# A\n"),
             Page(f"{HEX}/glimmer/b.html", "# B\n\n" + twice, "# B\n"),
             Page(f"{HEX}/glimmer/c.html", "# C\n\n" + twice, "# C\n")]

    assert gone_of(pages) == {"attribute:phx-glow": f"{HEX}/glimmer/b.html"}


def test_what_an_earlier_changelog_retired_and_no_page_mentions_any_more_is_gone():
    changelog = f"{HEX}/glimmer/changelog.html"
    old = ("# Changelog\n\n## v0.9.0\n\n### Deprecations\n\n"
           "- `glow_patch/2` is deprecated in favor of `<.glow navigate>`\n"
           "- Passing a list of colours to `Glimmer.fade/2`, such as "
           "`Glimmer.fade(el, [:red])`, is deprecated\n"
           "- The `:speed` option for `Glimmer.fade/2` has been deprecated\n")
    # Named once, bare, by a changelog: the announcement is the evidence. A usage it
    # deprecates (a list passed to fade/2), or an option of one function only, is not
    # the function or the option.
    pages = [Page(changelog, old, "# Changelog\n\n## v1.0.0\n\n* Faster halos\n")]

    assert gone_of(pages) == {"function:glow_patch/2": changelog}


def test_a_task_taught_only_by_a_guide_that_left_the_index_is_not_gone():
    # The guide may have moved out of the crawl with its examples (an app's own task).
    pages = [Page(f"{HEX}/glimmer/mix-tasks.html", "# Tasks\n\nRun `mix glimmer.hello`.\n", None),
             Page(GUIDE, None, "# Effects\n")]

    assert gone_of(pages) == {}


def test_a_task_whose_own_page_left_the_index_is_gone():
    page = f"{HEX}/glimmer/Mix.Tasks.Glimmer.Gen.Fx.html"
    pages = [Page(page, "# mix glimmer.gen.fx\n\nRun `mix glimmer.gen.fx`.\n", None),
             Page(GUIDE, None, "# Effects\n")]

    assert gone_of(pages) == {"mix_task:mix glimmer.gen.fx": page}


def test_a_term_gone_after_a_notice_keeps_what_the_notice_said():
    changelog = f"{HEX}/halyard/changelog.html"
    old = ("# Changelog\n\n## v1.2.0\n\n### Soft deprecations\n\n"
           "- `Halyard.hoist/2` is soft-deprecated in favor of `Halyard.raise_sail/2`\n")
    taught, mentioned, olds = taught_of([Page(changelog, old, "# Changelog\n\n## v2.0.0\n")])

    [term] = gone.gone_terms(taught, mentioned, lambda ids: ((i, olds[i]) for i in ids))

    notice = taught.notice_of(term)
    assert notice is not None
    assert (notice["kind"], notice["replacement"]) == ("soft-deprecated", "Halyard.raise_sail/2")


def test_a_function_named_with_another_arity_is_not_mentioned():
    prepare = Term("prepare/1", TermKind.FUNCTION)

    assert gone.still_mentioned([(None, "`prepare/2` still loads one.")], [prepare]) == set()
    assert gone.still_mentioned([(None, "call `prepare(x)`")], [prepare]) == {prepare}


def test_a_changelog_mention_does_not_keep_a_retired_term_a_guide_does():
    trace = Term("glow_trace", TermKind.NAME)
    texts = [(None, "- Opt in to `:glow_trace` in development", True)]

    assert gone.still_mentioned(texts, [trace], retired=[trace]) == set()
    assert gone.still_mentioned(texts, [trace]) == {trace}
    assert gone.still_mentioned([(None, "Set `glow_trace: true`.", False)], [trace],
                                retired=[trace]) == {trace}


def test_a_retired_usage_no_page_shows_any_more_stays_retired():
    changelog = f"{HEX}/glimmer/changelog.html"
    old = ("# Changelog\n\n## v0.8.0\n\n### Deprecations\n\n"
           '- Deprecate `phx-glow="pulse"` in favor of `phx-glow="fade"`\n'
           '- Deprecate `phx-glow="spin"` in favor of `phx-glow="fade"`\n'
           "- The `:trail` option of `Glimmer.animate/2` has been removed\n")
    guide = Page(f"{HEX}/glimmer/effects.html",
                 text='Use `phx-glow="fade"`, or `phx-glow="spin"` for a while yet.')
    taught, mentioned, _ = taught_of([Page(changelog, old, "# Changelog\n\n## v1.0.0\n"),
                                      guide])

    carried = gone.carried(taught, mentioned)

    # "spin" is still shown: the deprecation is not the docs' last word on it
    assert sorted(gone.usage_probe(n).text for _, n in carried) == [
        ":trail", 'phx-glow="pulse"']
    assert {t.url for t, _ in carried} == {changelog}
