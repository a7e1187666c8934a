"""What a docs page says became of an API (crawler.notices): deprecated, soft-deprecated,
removed, renamed or replaced, with its replacement, scope, shape and version.

A notice read wrongly is a false alarm (or a missed one) on a skill's lines: each test
below is a phrasing the docs use and the notice a user expects from it. Every API name
here is made up (Sparkle, Glitter) unless it is a well-known one.
"""

from __future__ import annotations

import json

import pytest

from crawler.notices import MAX_SENTENCE, ArgKind, Notice, Shape, notices, quoted
from crawler.types import NoticeKind, TermKind
from crawler.vocab import Term

# -- basics ----------------------------------------------------------------------


def kinds(found):
    return [(n.term.text, n.kind, n.replacement) for n in found]


def test_deprecated_in_favor_of_names_the_replacement():
    found = notices("# Views\n\n`Sparkle.View` is deprecated in favor of `Sparkle.Template`.")

    assert kinds(found) == [("Sparkle.View", "deprecated", "Sparkle.Template")]
    assert found[0].sentence == "`Sparkle.View` is deprecated in favor of `Sparkle.Template`."


def test_option_deprecated_on_a_module_flags_the_option_not_the_module():
    found = notices("The `:shine` option on `use Sparkle.Router` is deprecated.")

    assert kinds(found) == [(":shine", "deprecated", None)]


def test_deprecating_a_usage_is_not_deprecating_the_function():
    # "Passing a list to cast/3" retires one way of calling it, not cast/3 itself: a
    # usage the docs do not describe gives nothing, one they do gives its shape.
    assert notices("Passing a list to `cast/3` is deprecated.") == []
    [glow] = notices("Calling `Sparkle.glow/1` with a string is deprecated.")
    assert (glow.term.text, glow.shape) == ("Sparkle.glow/1", Shape(arg="string"))


def test_a_list_of_removed_terms_gives_one_removal_each():
    found = notices("`Sparkle.dim/1`, `blink/2` and `phx-flicker` have now been removed.")

    assert kinds(found) == [("Sparkle.dim/1", "removed", None), ("blink/2", "removed", None),
                            ("phx-flicker", "removed", None)]


def test_no_longer_supported_is_a_removal():
    assert kinds(notices("`sparkle_redirect/2` is no longer supported.")) == [
        ("sparkle_redirect/2", "removed", None)]


def test_deprecation_of_a_non_term_is_ignored():
    assert notices("The `config` key is deprecated. `true` is no longer supported.") == []


CHANGELOG = """\
# Changelog

## v2.0.0

### Backwards incompatible changes

- Remove `phx-flicker`, use CSS transitions
- Elixir 1.17 is now the minimum version

### Deprecations

- `Sparkle.dim/1` is deprecated in favor of `Sparkle.fade/1`

### Enhancements

- Use `Sparkle.Palette` instead of `Sparkle.Colors`

```elixir
# `Sparkle.glow/1` is deprecated here only as an example
Sparkle.glow(:red)
```

## Moving from Glitter to Sparkle

Glitter was the old name.
"""


def test_changelog_notices_carry_their_section_path():
    found = {n.term.text: n for n in notices(CHANGELOG, changelog=True)}

    assert sorted(found) == ["Glitter", "Sparkle.Colors", "Sparkle.dim/1", "phx-flicker"]
    assert (found["phx-flicker"].kind, found["phx-flicker"].section) == (
        "removed", "v2.0.0 › Backwards incompatible changes")
    assert (found["Sparkle.dim/1"].kind, found["Sparkle.dim/1"].replacement,
            found["Sparkle.dim/1"].section) == ("deprecated", "Sparkle.fade/1",
                                                 "v2.0.0 › Deprecations")
    assert (found["Sparkle.Colors"].kind, found["Sparkle.Colors"].replacement,
            found["Sparkle.Colors"].section) == ("replaced", "Sparkle.Palette",
                                                  "v2.0.0 › Enhancements")
    assert (found["Glitter"].kind, found["Glitter"].replacement) == ("replaced", "Sparkle")


@pytest.mark.parametrize(("heading", "bullet", "expected"), [
    ("Deprecations", "- `Sparkle.dim/1` deprecated in favor of `Sparkle.fade/1`",
     [("Sparkle.dim/1", "deprecated", "Sparkle.fade/1")]),
    ("Backwards incompatible changes", "- `phx-flicker` removed",
     [("phx-flicker", "removed", None)]),
])
def test_changelog_bullets_with_a_bare_participle_count(heading, bullet, expected):
    text = f"# Changelog\n\n## v2.0.0\n\n### {heading}\n\n{bullet}\n"

    assert kinds(notices(text, changelog=True)) == expected


def test_deprecation_words_inside_code_fences_are_ignored():
    found = notices(CHANGELOG, changelog=True)

    assert "Sparkle.glow/1" not in {n.term.text for n in found}


def test_changelog_only_phrasings_do_not_count_in_a_guide():
    # In a guide, "Use X instead of Y" without a word of time, and a "Moving from" heading
    # that names no code, are advice; under a "Backwards incompatible changes" heading an
    # imperative bullet announces, in a guide as in a changelog.
    guide = CHANGELOG.replace("# Changelog", "# Effects")

    assert kinds(notices(guide, changelog=False)) == [
        ("phx-flicker", "removed", None), ("Sparkle.dim/1", "deprecated", "Sparkle.fade/1")]


def test_a_term_announced_twice_gives_one_notice():
    text = ("## v2\n\n`phx-flicker` is deprecated.\n\n## v1\n\n`phx-flicker` is deprecated "
            "since long.")

    found = notices(text, changelog=True)

    assert [(n.term.text, n.section) for n in found] == [("phx-flicker", "v2")]


def test_notice_survives_a_round_trip_through_storage():
    notice = notices(CHANGELOG, changelog=True)[0]

    assert type(notice).from_dict(notice.as_dict()) == notice



# -- fast paths keep the same answers --------------------------------------------------


def test_lines_without_a_notice_word_still_move_the_section():
    text = ("# Changelog\n\n## v3.0.0\n\n### Deprecations\n\n- Faster `Sparkle.glow/1`\n\n"
            "### Enhancements\n\n- Adds `Sparkle.fade/2`\n\n## v2.0.0\n\n"
            "### Removals\n\n- `phx-flicker` removed\n")

    assert [(n.term.text, n.kind, n.section) for n in notices(text, changelog=True)] == [
        ("phx-flicker", "removed", "v2.0.0 › Removals")]


@pytest.mark.parametrize("line", [
    "`Sparkle.View` IS DEPRECATED.",
    "`Sparkle.View` has been Removed.",
    "`Sparkle.View` is No Longer Supported.",
])
def test_notice_words_are_found_in_any_case(line):
    assert [n.term.text for n in notices(f"# Guide\n\n{line}\n")] == ["Sparkle.View"]


def test_a_guide_without_notice_words_announces_nothing():
    assert notices("# Guide\n\n## Removing items\n\nCall `Sparkle.dim/1` to drop it.\n") == []


# -- helpers for the tests below -------------------------------------------------------


def guide(*lines: str) -> list[Notice]:
    """The notices of a guide page whose body is ``lines``."""
    return notices("# Effects\n\n" + "\n".join(lines) + "\n")


def changelog(heading: str, *bullets: str, version: str = "v2.1.0") -> list[Notice]:
    """The notices of a changelog with one version section and one heading in it."""
    body = "\n".join(bullets)
    return notices(f"# Changelog\n\n## {version}\n\n### {heading}\n\n{body}\n", changelog=True)


def summary(found: list[Notice]) -> list[tuple[str, str, str | None]]:
    return [(n.term.text, n.kind, n.replacement) for n in found]


# -- verbs: what happened, in the phrasings of notices.VERBS -------------------------------


@pytest.mark.parametrize(("sentence", "kind"), [
    ("`Sparkle.glow/1` is soft-deprecated.", NoticeKind.SOFT_DEPRECATED),
    ("`Sparkle.glow/1` is soft deprecated.", NoticeKind.SOFT_DEPRECATED),
    ("`Sparkle.glow/1` is now softdeprecated.", NoticeKind.SOFT_DEPRECATED),
    ("`Sparkle.glow/1` was renamed to `Sparkle.shine/1`.", NoticeKind.RENAMED),
    ("`Sparkle.glow/1` has been replaced by `Sparkle.shine/1`.", NoticeKind.REPLACED),
    ("`Sparkle.glow/1` has been superseded by `Sparkle.shine/1`.", NoticeKind.REPLACED),
    ("`Sparkle.glow/1` was replaced with `Sparkle.shine/1`.", NoticeKind.REPLACED),
    # A removal still to come is a deprecation: the API works today.
    ("`Sparkle.glow/1` will be removed in v3.0.", NoticeKind.DEPRECATED),
    ("`Sparkle.glow/1` will be removed in a future release.", NoticeKind.DEPRECATED),
    ("`Sparkle.glow/1` is scheduled for removal.", NoticeKind.DEPRECATED),
    ("`Sparkle.glow/1` is no longer needed.", NoticeKind.DEPRECATED),
    ("`Sparkle.glow/1` is no longer recommended.", NoticeKind.DEPRECATED),
    ("`Sparkle.glow/1` is deprecated.", NoticeKind.DEPRECATED),
    ("`Sparkle.glow/1` is hard-deprecated.", NoticeKind.DEPRECATED),
    ("`Sparkle.glow/1` has been removed.", NoticeKind.REMOVED),
    ("`Sparkle.glow/1` was dropped.", NoticeKind.REMOVED),
    ("`Sparkle.glow/1` is no longer supported.", NoticeKind.REMOVED),
    ("`Sparkle.glow/1` is no longer available.", NoticeKind.REMOVED),
    ("`:glow` can no longer be passed to `Sparkle.shine/2`.", NoticeKind.REMOVED),
    ("`Sparkle.glow/1` will not work any more.", NoticeKind.REMOVED),
    ("`Sparkle.glow/1` does not work anymore.", NoticeKind.REMOVED),
    ("`Sparkle.glow/1` is discouraged.", NoticeKind.SOFT_DEPRECATED),
    ("`Sparkle.glow/1` is strongly discouraged.", NoticeKind.SOFT_DEPRECATED),
])
def test_each_verb_phrasing_gives_its_kind(sentence, kind):
    [found] = guide(sentence)

    assert found.term.text in ("Sparkle.glow/1", ":glow")
    assert found.kind == kind


@pytest.mark.parametrize("sentence", [
    # What happens at run time, not to the API.
    "`Sparkle.glow/1` is replaced with the computed value.",
    "The `:glow` key will be removed from the assigns.",
])
def test_run_time_phrasings_are_no_notice(sentence):
    assert guide(sentence) == []


@pytest.mark.parametrize("sentence", [
    "`Sparkle.glow/1` has been replaced by `Sparkle.shine/1`.",
    "`Sparkle.glow/1` is now replaced by `Sparkle.shine/1`.",
    "`Sparkle.glow/1` has been superseded by `Sparkle.shine/1`.",
])
def test_replaced_by_names_the_replacement(sentence):
    assert summary(guide(sentence)) == [("Sparkle.glow/1", "replaced", "Sparkle.shine/1")]


def test_renamed_to_and_in_favor_of_name_the_replacement():
    assert summary(guide("`Sparkle.glow/1` was renamed to `Sparkle.shine/1`.",
                         "`Sparkle.dim/1` is soft deprecated in favor of `Sparkle.fade/1`.")) == [
        ("Sparkle.glow/1", "renamed", "Sparkle.shine/1"),
        ("Sparkle.dim/1", "soft-deprecated", "Sparkle.fade/1")]


def test_a_use_sentence_after_the_notice_gives_its_replacement():
    assert summary(guide("`Sparkle.glow/1` is deprecated. Use `Sparkle.shine/1` instead.")) == [
        ("Sparkle.glow/1", "deprecated", "Sparkle.shine/1")]


def test_the_first_verb_of_a_sentence_decides_its_kind():
    # VERBS tries "replaced" before "deprecated"; the verb met first in the sentence wins.
    found = guide("The `Sparkle.Colors` module is deprecated, while its helpers have been "
                  "replaced by plain functions.")

    assert [(n.term.text, n.kind) for n in found] == [("Sparkle.Colors", "deprecated")]


def test_a_replacement_in_another_clause_is_not_the_subjects():
    found = guide("The `Sparkle.Colors` module is deprecated, while `Sparkle.Palette` has "
                  "been replaced by `Sparkle.Paint`.")

    assert (found[0].term.text, found[0].replacement) == ("Sparkle.Colors", None)


# -- imperatives in a changelog ----------------------------------------------------------


@pytest.mark.parametrize(("bullet", "expected"), [
    ("- Deprecate `Sparkle.glow/1`", ("Sparkle.glow/1", "deprecated", None)),
    ("- Deprecated `Sparkle.glow/1`", ("Sparkle.glow/1", "deprecated", None)),
    ("- Soft-deprecate `Sparkle.glow/1` in favor of `Sparkle.shine/1`",
     ("Sparkle.glow/1", "soft-deprecated", "Sparkle.shine/1")),
    ("- Remove `Sparkle.glow/1`", ("Sparkle.glow/1", "removed", None)),
    ("- Removed `phx-glow`", ("phx-glow", "removed", None)),
    ("- Drop `Sparkle.glow/1`", ("Sparkle.glow/1", "removed", None)),
    ("- Rename `Sparkle.glow/1` to `Sparkle.shine/1`",
     ("Sparkle.glow/1", "renamed", "Sparkle.shine/1")),
    ("- Replace `Sparkle.glow/1` with `Sparkle.shine/1`", ("Sparkle.glow/1", "replaced",
                                                        "Sparkle.shine/1")),
    # A [scope] tag and an adverb before the verb.
    ("- [Sparkle.Effects] Fully deprecate `glow/1`", ("glow/1", "deprecated", None)),
    ("- [Sparkle] Formally deprecate `Sparkle.glow/1`", ("Sparkle.glow/1", "deprecated", None)),
])
def test_a_changelog_bullet_opening_with_an_imperative_announces(bullet, expected):
    assert summary(changelog("Enhancements", bullet)) == [expected]


def test_replace_with_names_the_replacement():
    assert summary(changelog("Enhancements", "- Replace `Sparkle.glow/1` with `Sparkle.shine/1`")
                   ) == [("Sparkle.glow/1", "replaced", "Sparkle.shine/1")]


def test_an_imperative_names_only_its_object_not_the_replacement():
    found = changelog("Enhancements", "- Rename `debug_glow` to `debug_shine`")

    # A snake_case code word an imperative renames is an API name (a plain word is not).
    assert [(n.term.text, n.term.kind, n.replacement) for n in found] == [
        ("debug_glow", TermKind.NAME, "debug_shine")]
    assert changelog("Enhancements", "- Rename `config` to `settings`") == []


def test_replace_without_a_replacement_is_no_notice():
    assert changelog("Enhancements", "- Replace internal queue with a faster one") == []


def test_an_imperative_on_an_api_under_a_module_tag_retires_the_module():
    found = changelog("Deprecations", "- [Sparkle.Trace] Fully deprecate the old tracing API")

    assert [(n.term.text, n.kind) for n in found] == [("Sparkle.Trace", "deprecated")]


def test_imperatives_announce_nothing_in_a_guide_outside_a_notice_heading():
    assert guide("- Remove `phx-glow` from the element when done.",
                 "- Deprecate `Sparkle.glow/1` calls in your own wrappers.") == []


def test_imperatives_under_bug_fixes_retire_nothing():
    # "Remove `phx-glow` …" under Bug fixes says what was fixed, not what was retired.
    assert changelog("Bug fixes", "- Remove `phx-glow` from the DOM after the transition",
                     "- Drop `Sparkle.glow/1` warnings on reconnect") == []


def test_a_passive_sentence_under_bug_fixes_still_announces():
    assert summary(changelog("Bug fixes", "- `Sparkle.glow/1` is deprecated")) == [
        ("Sparkle.glow/1", "deprecated", None)]


# -- "use Y instead of X", "Y replaces X", "Moving from X to Y" ---------------------------


def test_use_instead_of_announces_in_a_changelog():
    assert summary(changelog("Enhancements", "- Use `Sparkle.Palette` instead of "
                             "`Sparkle.Colors`")) == [
        ("Sparkle.Colors", "replaced", "Sparkle.Palette")]


@pytest.mark.parametrize(("sentence", "announces"), [
    ("Use `Sparkle.shine/1` instead of `Sparkle.glow/1`.", False),
    ("Prefer `Sparkle.glow!/1` instead of `Sparkle.glow/1` when it must raise.", False),
    ("From now on, use `Sparkle.shine/1` instead of `Sparkle.glow/1`.", True),
    ("Since v2.0, use `Sparkle.shine/1` instead of `Sparkle.glow/1`.", True),
    ("When upgrading, call `Sparkle.shine/1` instead of `Sparkle.glow/1`.", True),
])
def test_use_instead_of_in_a_guide_announces_only_with_a_word_of_time(sentence, announces):
    found = guide(sentence)

    assert bool(found) is announces
    if announces:
        assert (found[0].term.text, found[0].kind) == ("Sparkle.glow/1", "replaced")


def test_use_instead_of_under_bug_fixes_is_advice():
    assert changelog("Bug fixes", "- Use `Sparkle.shine/1` instead of `Sparkle.glow/1` "
                     "internally") == []


def test_y_replaces_x_names_both():
    assert summary(guide("`Sparkle.Palette` replaces `Sparkle.Colors`.")) == [
        ("Sparkle.Colors", "replaced", "Sparkle.Palette")]


def test_moving_from_headings():
    # In a guide only code names the API; in a changelog a word does too.
    assert summary(notices("# Guide\n\n## Moving from `Sparkle.View` to `Sparkle.Template`\n\n"
                           "Text.\n")) == [("Sparkle.View", "replaced", "Sparkle.Template")]
    assert notices("# Guide\n\n## Moving from Glitter to Sparkle\n\nText.\n") == []
    assert summary(notices("# Changelog\n\n## Migrating from Glitter to Sparkle\n\nText.\n",
                           changelog=True)) == [("Glitter", "replaced", "Sparkle")]


# -- bare bullets under a notice heading -------------------------------------------------


@pytest.mark.parametrize(("heading", "kind"), [
    ("Deprecations", NoticeKind.DEPRECATED),
    ("Soft deprecations", NoticeKind.SOFT_DEPRECATED),
    ("Soft-deprecated", NoticeKind.SOFT_DEPRECATED),
    ("Removals", NoticeKind.REMOVED),
    ("Removed", NoticeKind.REMOVED),
])
def test_a_bare_bullet_takes_the_kind_of_its_heading(heading, kind):
    assert summary(changelog(heading, "- `Sparkle.glow/1`")) == [("Sparkle.glow/1", kind, None)]


@pytest.mark.parametrize("heading", ["Enhancements", "Backwards incompatible changes"])
def test_a_bare_bullet_elsewhere_announces_nothing(heading):
    # Under "Backwards incompatible changes" the heading does not say what became of it.
    assert changelog(heading, "- `Sparkle.glow/1`") == []


def test_a_bare_bullet_may_say_what_it_is_and_its_replacement():
    assert summary(changelog("Deprecations", "- `phx-glow` binding (use `phx-shine`)",
                             "- `Sparkle.dim/1` in favor of `Sparkle.fade/1`")) == [
        ("phx-glow", "deprecated", "phx-shine"), ("Sparkle.dim/1", "deprecated",
                                                   "Sparkle.fade/1")]


def test_a_long_bullet_under_a_notice_heading_says_something_else():
    assert changelog("Deprecations", "- `Sparkle.glow/1` now accepts a keyword list of "
                     "options for the effect") == []


def test_a_bare_bullet_must_open_with_its_term():
    assert changelog("Deprecations", "- Faster `Sparkle.glow/1`") == []


def test_bare_bullets_count_under_a_guides_notice_heading():
    assert summary(notices("# Upgrading\n\n## Deprecations\n\n- `Sparkle.glow/1`\n")) == [
        ("Sparkle.glow/1", "deprecated", None)]


def test_a_plain_word_in_a_bare_bullet_needs_a_scope():
    found = changelog("Deprecations", "- `glow` option for `Sparkle.glow/2`")

    assert all(n.scope for n in found if n.term.text == "glow")


# -- withdrawals -------------------------------------------------------------------------


def test_no_longer_deprecated_cancels_older_changelog_sections_only():
    text = ("# Changelog\n\n## v2.2.0\n\n### Removals\n\n- `Sparkle.glow/1` has been removed\n\n"
            "## v2.1.0\n\n### Enhancements\n\n- `Sparkle.glow/1` is no longer deprecated\n"
            "- `Sparkle.dim/1` is un-deprecated\n\n"
            "## v2.0.0\n\n### Deprecations\n\n- `Sparkle.glow/1` is deprecated\n"
            "- `Sparkle.dim/1` is deprecated\n- `Sparkle.fade/1` is deprecated\n")

    found = notices(text, changelog=True)

    # The newer removal stands; the older deprecations the withdrawal takes back do not.
    assert [(n.term.text, n.kind, n.version) for n in found] == [
        ("Sparkle.glow/1", "removed", "2.2"), ("Sparkle.fade/1", "deprecated", "2.0")]


@pytest.mark.parametrize("order", ["notice first", "withdrawal first"])
def test_no_longer_deprecated_cancels_every_notice_of_its_term_in_a_guide(order):
    notice, withdrawal = ("`Sparkle.glow/1` is deprecated.",
                          "`Sparkle.glow/1` is no longer deprecated.")
    first, second = (notice, withdrawal) if order == "notice first" else (withdrawal, notice)

    found = notices(f"# Effects\n\n{first}\n\n## Later\n\n{second}\n\n`Sparkle.dim/1` is "
                    "deprecated.\n")

    assert [n.term.text for n in found] == ["Sparkle.dim/1"]


# -- "This function is deprecated" on a module page --------------------------------------

MODULE_PAGE = """\
# Sparkle.Effects

## glow(element, opts \\\\ [])

This function is deprecated. Use `shine/2` instead.

## shine(element, opts)

Shines the element.

## fade(element)

> This macro has been removed.
"""


def test_this_function_names_the_function_of_its_signature_heading():
    found = notices(MODULE_PAGE)

    assert [(n.term.text, n.kind, n.replacement, n.section) for n in found] == [
        ("Sparkle.Effects.glow/2", "deprecated", "shine/2", "glow(element, opts \\\\ [])"),
        ("Sparkle.Effects.fade/1", "removed", None, "fade(element)")]


def test_this_function_means_nothing_off_a_module_page_or_a_signature_heading():
    assert notices(MODULE_PAGE.replace("# Sparkle.Effects", "# Effects guide")) == []
    assert notices("# Sparkle.Effects\n\n## Overview\n\nThis function is deprecated.\n") == []


# -- clauses: which code is the subject --------------------------------------------------


def test_a_relative_clause_retires_what_which_stands_for():
    assert summary(guide("Unlike `Sparkle.dim/1` and `Sparkle.fade/1`, which were removed, "
                         "`Sparkle.shine/1` accepts a map.")) == [
        ("Sparkle.dim/1", "removed", None), ("Sparkle.fade/1", "removed", None)]
    assert summary(guide("The docs of `Sparkle.Effects` mention `Sparkle.glow/1`, which was "
                         "removed.")) == [("Sparkle.glow/1", "removed", None)]


def test_an_if_clause_is_not_the_subject():
    # "the key will be removed": its subject is "the key", not the `:glow` of the condition.
    assert guide("If `:glow` is given, the key will be removed in the next release.") == []
    assert summary(guide("If you upgrade, `Sparkle.glow/1` will be removed in v3.")) == [
        ("Sparkle.glow/1", "deprecated", None)]


def test_a_sentence_about_something_else_opening_with_a_gerund_is_no_notice():
    assert guide("Fixing `Sparkle.glow/1` is no longer needed.") == []


# -- usage shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(("sentence", "shape"), [
    ("Passing a list of strings to `Sparkle.glow/2` is deprecated.",
     Shape(arg=ArgKind.LIST_OF_STRINGS)),
    ("Passing a keyword list to `Sparkle.glow/2` is deprecated.",
     Shape(arg=ArgKind.KEYWORD_LIST)),
    ("Passing a string to `Sparkle.glow/2` is deprecated.", Shape(arg=ArgKind.STRING)),
    ("Passing an anonymous function to `Sparkle.glow/2` is deprecated.",
     Shape(arg=ArgKind.FUNCTION)),
    ("Passing a map to `Sparkle.glow/2` is deprecated.", Shape(arg=ArgKind.MAP)),
    ("Passing a tuple to `Sparkle.glow/2` is deprecated.", Shape(arg=ArgKind.TUPLE)),
    ("Passing an MFA to `Sparkle.glow/2` is deprecated.", Shape(arg=ArgKind.MFA)),
    ("Calling `Sparkle.glow/2` with a keyword list is deprecated.",
     Shape(arg=ArgKind.KEYWORD_LIST)),
    ("Passing the `:color` option to `Sparkle.glow/2` is deprecated.", Shape(option="color")),
    ("Passing `:color` as a string to `Sparkle.glow/2` is deprecated.",
     Shape(arg=ArgKind.STRING, option="color")),
    ("`Sparkle.glow/2` with a CSS selector as `:target` is deprecated.",
     Shape(arg=ArgKind.STRING, option="target")),
])
def test_a_gerund_subject_retires_a_usage_of_the_function(sentence, shape):
    [found] = guide(sentence)

    assert (found.term.text, found.kind, found.shape) == ("Sparkle.glow/2", "deprecated", shape)


def test_a_usage_the_docs_do_not_describe_gives_nothing():
    assert guide("Calling `Sparkle.glow/2` is deprecated.")[0].shape is None  # the function
    assert guide("Passing a list to `cast/3` is deprecated.") == []  # a list of what?
    assert guide("Defining `render` in a view is deprecated.") == []  # which arity?


def test_defining_a_function_of_an_arity_retires_that_definition():
    [found] = guide("Defining `render/2` in a view is deprecated.")

    assert (found.term.text, found.shape) == ("render/2", Shape())


def test_an_example_call_is_the_shape_of_the_function_it_calls():
    [found] = guide("Giving a layout by its name alone, as in `put_layout(conn, :print)`, is "
                    "deprecated.")

    assert (found.term.text, found.shape) == ("put_layout/2",
                                              Shape(example=("conn", ":print")))


def test_using_x_is_no_longer_necessary_retires_x_itself():
    assert summary(guide("Using `Sparkle.glow/1` is no longer necessary.")) == [
        ("Sparkle.glow/1", "deprecated", None)]


# -- options: values, kinds of value, options that must now be given ----------------------


def test_an_option_written_with_its_value_retires_that_value():
    [found] = guide("Passing `on_conflict: {:constraint, _}` is deprecated, use "
                    "`:conflict_target`.")

    assert (found.term, found.shape, found.replacement) == (
        Term(":on_conflict", TermKind.OPTION),
        Shape(option="on_conflict", value="{:constraint, _}"), ":conflict_target")


def test_an_option_value_retired_for_one_function_is_scoped_to_it():
    [found] = guide("`on_conflict: {:constraint, _}` is deprecated for `insert_all`.")

    assert (found.term.text, found.scope, found.shape) == (
        ":on_conflict", (Term("insert_all", TermKind.FUNCTION),),
        Shape(option="on_conflict", value="{:constraint, _}"))


def test_passing_an_option_value_to_a_function_retires_that_value_only():
    [found] = guide("Passing `on_conflict: {:constraint, _}` to `Repo.insert_all/3` is "
                    "deprecated.")

    assert found.shape is not None and found.shape.value == "{:constraint, _}"


@pytest.mark.parametrize("sentence", [
    "The `:on_conflict` value `:replace_all_except_pk` is deprecated.",
    "The `:on_conflict` option value `:replace_all_except_pk` is deprecated.",
])
def test_the_value_of_an_option_is_a_term_scoped_to_the_option(sentence):
    [found] = guide(sentence)

    assert (found.term.text, found.scope) == (":replace_all_except_pk",
                                              (Term(":on_conflict", TermKind.OPTION),))


@pytest.mark.parametrize(("bullet", "kind", "shape"), [
    ("- Deprecate MFAs for `:validate`", NoticeKind.DEPRECATED,
     Shape(arg=ArgKind.MFA, option="validate")),
    ("- Tuples may no longer be given to `:filter`", NoticeKind.REMOVED,
     Shape(arg=ArgKind.TUPLE, option="filter")),
])
def test_a_kind_of_value_retired_for_an_option(bullet, kind, shape):
    [found] = changelog("Deprecations", bullet)

    assert (found.term.kind, found.kind, found.shape) == (TermKind.OPTION, kind, shape)


@pytest.mark.parametrize(("heading", "kind"), [
    ("Deprecations", NoticeKind.DEPRECATED),
    ("Soft deprecations", NoticeKind.SOFT_DEPRECATED),
])
def test_use_m_must_now_specify_an_option(heading, kind):
    [found] = changelog(heading, "- `use Sparkle.Controller` should now include the "
                                 "`:formats` it serves")

    assert (found.term, found.kind, found.shape) == (
        Term("Sparkle.Controller", TermKind.MODULE), kind, Shape(option="formats", absent=True))


@pytest.mark.parametrize("text", [
    "# Changelog\n\n## v2.0.0\n\n### Backwards incompatible changes\n\n"
    "- `use Sparkle.Controller` should now include the `:formats` it serves\n",
    "# Upgrading\n\n`use Sparkle.Controller` should now include the `:formats` it serves.\n",
])
def test_must_now_specify_announces_outside_a_deprecations_heading(text):
    [found] = notices(text, changelog=text.startswith("# Changelog"))

    assert found.shape == Shape(option="formats", absent=True)


def test_must_now_needs_a_module_or_a_function():
    assert changelog("Deprecations", "- `:formats` should now include the `:html` format") == []


# -- scope: what the term belongs to -----------------------------------------------------


@pytest.mark.parametrize(("sentence", "scope"), [
    ("The `:shine` option of `Sparkle.glow/2` is deprecated.",
     (Term("Sparkle.glow/2", TermKind.FUNCTION),)),
    ("The `:shine` option is deprecated for `update_all` and `delete_all`.",
     (Term("update_all", TermKind.FUNCTION), Term("delete_all", TermKind.FUNCTION))),
    ("The `:shine` option is deprecated for `Repo.update_all/3` and `Repo.delete_all/2`.",
     (Term("Repo.update_all/3", TermKind.FUNCTION), Term("Repo.delete_all/2", TermKind.FUNCTION))),
    # `use M`: that call, strictly; a module named alone: the module.
    ("The `:shine` option of `use Sparkle.Router` is deprecated.",
     (Term("use Sparkle.Router", TermKind.MODULE),)),
    ("The `:shine` option in `Sparkle.Router` is deprecated.",
     (Term("Sparkle.Router", TermKind.MODULE),)),
    ("The `:shine` attribute of `<.glow>` is deprecated.",
     (Term("<.glow>", TermKind.COMPONENT),)),
])
def test_an_option_is_scoped_to_what_the_sentence_names(sentence, scope):
    [found] = guide(sentence)

    assert (found.term.text, found.scope) == (":shine", scope)


def test_a_function_is_not_scoped_by_the_words_around_it():
    # Only options and names belong to something; a function is its own API.
    [found] = guide("`Sparkle.glow/1` of `Sparkle.Effects` is deprecated.")

    assert (found.term.text, found.scope) == ("Sparkle.glow/1", ())


def test_an_option_deprecated_on_a_module_is_the_option():
    [found] = guide("The `:shine` option on `use Sparkle.Router` is deprecated.")

    assert (found.term.text, found.scope) == (":shine", (Term("use Sparkle.Router",
                                                              TermKind.MODULE),))


# -- what kind of name a code span is -----------------------------------------------------


@pytest.mark.parametrize(("sentence", "term"), [
    ("The `longPollFallbackMs` option is deprecated.", Term("longPollFallbackMs", TermKind.NAME)),
    ("`longPollFallbackMs` is deprecated.", Term("longPollFallbackMs", TermKind.NAME)),
    ("`fl-contains` is deprecated.", Term("fl-contains", TermKind.NAME)),
    ("`@sparkle/glow` is deprecated.", Term("@sparkle/glow", TermKind.NAME)),
    ("The `@sparkle/glow` npm package is deprecated.", Term("@sparkle/glow", TermKind.NAME)),
    ("`@glow_prefix` is deprecated.", Term("@glow_prefix", TermKind.MODULE_ATTRIBUTE)),
    ("`--no-glow` is no longer supported.", Term("--no-glow", TermKind.FLAG)),
    ("`--glow=true` is no longer supported.", Term("--glow", TermKind.FLAG)),
    ("`npm run deploy` is no longer needed.", Term("npm run deploy", TermKind.COMMAND)),
    ("The `debug_glow` option is deprecated.", Term("debug_glow", TermKind.NAME)),
    ("`config :sparkle, :glow` is deprecated.", Term(":glow", TermKind.OPTION)),
    ("`config :sparkle, Sparkle.Endpoint, glow: true` is deprecated.",
     Term(":glow", TermKind.OPTION)),
    ("`Glitter` is no longer required.", Term("Glitter", TermKind.MODULE)),
])
def test_a_code_span_names_the_kind_of_api_it_spells(sentence, term):
    assert [n.term for n in guide(sentence)] == [term]


@pytest.mark.parametrize("sentence", [
    "`debug_glow` is deprecated.",  # snake_case without a noun: could be anything
    "The `config` option is deprecated.",  # a plain word with no scope
    "`config` is deprecated.",
    "`glitter` is no longer required.",  # a lower-case word is not a module
])
def test_a_word_that_does_not_say_it_is_an_api_gives_nothing(sentence):
    assert guide(sentence) == []


def test_a_plain_word_with_a_scope_is_a_name_of_that_scope():
    [found] = guide("The `show` attribute of `<.modal>` is deprecated.")

    assert (found.term, found.scope) == (Term("show", TermKind.NAME),
                                         (Term("<.modal>", TermKind.COMPONENT),))


# -- versions and storage ----------------------------------------------------------------


def test_a_changelog_notice_carries_its_version_a_guide_notice_none():
    [in_changelog] = changelog("Deprecations", "- `Sparkle.glow/1` is deprecated",
                               version="v2.1.3")
    [in_guide] = guide("`Sparkle.glow/1` is deprecated.")

    assert (in_changelog.version, in_guide.version) == ("2.1", None)


@pytest.mark.parametrize("text", [
    "# Changelog\n\n## v1.4.0\n\n### Deprecations\n\n- The `:shine` option of `Sparkle.glow/2` "
    "is deprecated\n",
    "# Changelog\n\n## v1.4.0\n\n### Deprecations\n\n- Passing `:color` as a string to "
    "`Sparkle.glow/2` is deprecated\n",
    "# Changelog\n\n## v1.4.0\n\n### Deprecations\n\n- Giving a layout by its name alone, "
    "as in `put_layout(conn, :print)`, is deprecated\n",
    "# Changelog\n\n## v1.4.0\n\n### Deprecations\n\n- `use Sparkle.Controller` should now "
    "include the `:formats` it serves\n",
])
def test_scope_shape_and_version_survive_storage_as_json(text):
    [notice] = notices(text, changelog=True)
    assert notice.version == "1.4" and (notice.scope or notice.shape)

    stored = json.loads(json.dumps(notice.as_dict()))

    assert Notice.from_dict(stored) == notice


def test_a_notice_stored_before_scope_shape_and_version_still_reads():
    old = {"term": "phx-glow", "term_kind": "attribute", "kind": "removed",
           "section": "v1.0.0 › Removals", "sentence": "- `phx-glow` removed",
           "replacement": None}

    notice = Notice.from_dict(old)  # type: ignore[arg-type]

    assert notice == Notice(Term("phx-glow", TermKind.ATTRIBUTE), NoticeKind.REMOVED,
                            "v1.0.0 › Removals", "- `phx-glow` removed")
    assert notice.as_dict() == old  # and is stored again as it was


# -- usages of a module, tagged tuples, Erlang functions ---------------------------------


def test_a_use_of_a_module_with_an_option_is_a_usage_of_the_module():
    [found] = changelog("Deprecations",
                        "- Defining a client with `use Sparkle, otp_app: :demo` is deprecated")

    assert (found.term, found.shape) == (Term("Sparkle", TermKind.MODULE),
                                         Shape(option="otp_app"))


def test_a_module_used_without_an_option_it_needs_is_a_usage_of_the_module():
    [found] = guide("Using `Sparkle.Parser` without the `:formats` option no longer works.")

    assert (found.term.text, found.kind, found.shape) == (
        "Sparkle.Parser", NoticeKind.REMOVED, Shape(option="formats", absent=True))


def test_a_tagged_tuple_is_a_term_of_its_own():
    [found] = changelog("Deprecations", "- Deprecate `{:one_of, choices}` in favor of "
                                        "`{:in, choices}`")

    assert (found.term, found.replacement) == (Term("{:one_of, …}", TermKind.TUPLE),
                                               "{:in, choices}")


def test_an_example_call_counts_its_trailing_keywords_as_one_argument():
    [found] = guide("Passing a keyword list (`tint(color, hue: ..., light: ...)`) is "
                    "deprecated.")

    assert found.term.text == "tint/2"
    assert found.shape == Shape(example=("color", "hue: ...", "light: ..."))


def test_an_erlang_function_is_named_with_its_module():
    [found] = guide("`:sparkle.glow/2` is deprecated.")

    assert found.term == Term(":sparkle.glow/2", TermKind.FUNCTION)


def test_a_kind_of_value_with_no_code_before_the_verb_is_still_read():
    # "a tuple of three elements" is no code: the subject is a kind of value, not a term.
    [found] = guide("This means a tuple of three elements can no longer be passed to "
                    "`:where`, give a keyword list.")

    assert (found.term.text, found.shape) == (":where", Shape(arg=ArgKind.TUPLE,
                                                              option="where"))


def test_an_attribute_value_retired_is_a_shape_and_a_field_access_is_no_name():
    found = changelog("Deprecations", '- Deprecate `phx-glow="pulse"` in favor of '
                                      '`phx-glow="breathe"`',
                      "- Remove `lamp.state` during render")

    assert [(n.term.text, n.shape) for n in found] == [("phx-glow", Shape(value='"pulse"'))]


# -- a page without full stops ------------------------------------------------------


def test_a_notice_in_a_sentence_of_a_whole_page_cites_the_words_around_its_term():
    filler = " ".join(f"word{k}" for k in range(100_000))  # one "sentence" of 700 KB
    found = notices(f"# Guide\n\n{filler} `Sparkle.View` is deprecated in favor of "
                    f"`Sparkle.Template` {filler}\n")

    assert kinds(found) == [("Sparkle.View", "deprecated", "Sparkle.Template")]
    sentence = found[0].sentence
    assert len(sentence) <= MAX_SENTENCE + 4  # and the "… " and " …" marking the cuts
    assert sentence.startswith("… word") and sentence.endswith(" …")
    assert "`Sparkle.View` is deprecated in favor of `Sparkle.Template`" in sentence
    assert all(part in f"{filler} `Sparkle.View`" or part in f"`Sparkle.Template` {filler}"
               for part in sentence.strip("… ").split(" is deprecated in favor of "))


def test_quoted_keeps_a_sentence_of_ordinary_length_whole():
    sentence = "`Sparkle.View` is deprecated in favor of `Sparkle.Template`."
    assert quoted(sentence, "Sparkle.View") == sentence


# -- kinds named by a noun or their spelling; phrasings of issue 14 -------------------------


@pytest.mark.parametrize(("sentence", "term"), [
    ("The `settings` variable is no longer available in `Lumen.Router`.",
     Term("settings", TermKind.VARIABLE)),
    ("The `field_group/1` component is deprecated.", Term("<.field_group>", TermKind.COMPONENT)),
    ("The `field_group` function component is deprecated.",
     Term("<.field_group>", TermKind.COMPONENT)),
    ("The `~M` sigil is deprecated.", Term("~M", TermKind.SIGIL)),
    ("The `.mtex` extension is deprecated.", Term(".mtex", TermKind.EXTENSION)),
])
def test_a_noun_or_a_spelling_says_what_kind_of_term_it_is(sentence, term):
    assert [n.term for n in guide(sentence)] == [term]


def test_a_plain_word_the_docs_call_an_attribute_is_one_without_a_scope():
    [found] = changelog("Removals", "- Remove previously deprecated `bind` attribute. Use `:bind`")

    assert (found.term, found.kind) == (Term("bind", TermKind.ATTRIBUTE), NoticeKind.REMOVED)
    assert found.term.pattern().search("<.card bind={c}>")
    assert not found.term.pattern().search("<.card :bind={c}>")


def test_a_variable_without_a_scope_gives_nothing():
    assert guide("The `settings` variable is no longer available.") == []


def test_an_option_named_by_the_word_after_a_kind_of_value_when_the_page_spells_it():
    found = changelog("Changes", "- [Sprocket.Query] Keyword filters are no longer supported",
                      "- [Sprocket.Query] Keyword arguments are no longer supported",
                      "- The `:filters` option now accepts maps")

    assert [(n.term.text, n.shape) for n in found] == [
        (":filters", Shape(arg=ArgKind.KEYWORD_LIST, option="filters"))]


def test_a_new_form_of_an_argument_retires_the_old_one():
    [found] = changelog("Changes", "- `route/3` now expects `to: handler` as last argument "
                                   "instead of simply `handler`. This makes room for `:as`")

    assert (found.term.text, found.kind, found.replacement) == (
        "route/3", NoticeKind.DEPRECATED, "to: handler")
    assert found.shape == Shape(example=("_", "_", "handler"))


def test_an_option_passed_in_config_is_a_usage_of_the_option():
    [found] = changelog("Deprecations", "- Setting `:transport` in your config is deprecated "
                                        "in favor of passing it to `use Marlin.Mailer`")

    assert found.term.text == ":transport"
    assert found.shape == Shape(option="transport", config=True)
    assert Notice.from_dict(json.loads(json.dumps(found.as_dict()))) == found


def test_each_option_paired_with_its_own_module():
    found = guide("> Earlier versions passed the `:palette` to `Verdant.Page` and `:tint` to "
                  "`Verdant.Panel`, but this approach is discouraged.")

    assert [(n.term.text, [t.text for t in n.scope]) for n in found] == [
        (":palette", ["Verdant.Page"]), (":tint", ["Verdant.Panel"])]


def test_an_addition_in_favor_of_an_api_replaces_it():
    found = changelog("Enhancements", "- Add `Corvid.render_to_iodata/2` in favor of "
                                      "`Corvid.render/2`", "- Add `Corvid.preview/1`")

    assert summary(found) == [("Corvid.render/2", "replaced", "Corvid.render_to_iodata/2")]


@pytest.mark.parametrize("bullet", [
    "- Add `Corvid.Engine.compile/2` as the entry point in favor of relying on the "
    "`EEx.Engine` behaviour",
    "- Include the caller in `Corvid.Engine`'s `EEx.Engine` deprecation warning",
])
def test_a_behaviour_retired_as_a_module_uses_it(bullet):
    behaviour, option = changelog("Enhancements", bullet)

    assert (behaviour.term.text, [t.text for t in behaviour.scope]) == (
        "EEx.Engine", ["Corvid.Engine"])
    assert (option.term.text, option.shape) == (
        ":engine", Shape(option="engine", value="Corvid.Engine"))


def test_a_rename_under_bug_fixes_is_a_notice_a_fix_is_not():
    found = changelog("Bug fixes",
                      "- [Sprocket.Query] Rename `@type clause` type to `@type clause_expr`",
                      "- [Sprocket] Rename `Sprocket.fetch_all/2` to `Sprocket.all/2`",
                      "- [Sprocket] Remove stale lock on `Sprocket.Pool`")

    assert [(n.term, n.kind) for n in found] == [
        (Term("Sprocket.Query.clause", TermKind.TYPE), NoticeKind.RENAMED),
        (Term("Sprocket.fetch_all/2", TermKind.FUNCTION), NoticeKind.RENAMED)]


def test_a_callback_that_is_now_another_arity_changed_an_option_renamed():
    found = changelog("Backwards incompatible changes",
                      "- The `furl/1` callback of `Halyard.Sail` is now `furl/2` with the wind",
                      "- The `:reef` option is now `:reef_points`.",
                      "- The `trim` setting is now `true` by default.")

    assert summary(found) == [("Halyard.Sail.furl/1", "changed", "furl/2"),
                              (":reef", "renamed", ":reef_points")]


def test_accessors_added_instead_of_direct_access_retire_reading_the_fields():
    found = changelog("Enhancements", "- [Quill.Draft] Add `marks/1` and `anchors/1` instead of "
                                      "allowing direct access on the struct fields")

    assert [(n.term, n.scope, n.replacement) for n in found] == [
        (Term(name, TermKind.FIELD), (Term("Quill.Draft", TermKind.MODULE),),
         f"Quill.Draft.{name}/1") for name in ("marks", "anchors")]


def test_deprecated_under_a_soft_deprecations_heading_is_soft():
    [found] = changelog("Soft deprecations (no warnings emitted)",
                        "- `Sprocket.quote_name/1` is deprecated in favor of `Sprocket.ident/1`")

    assert found.kind == NoticeKind.SOFT_DEPRECATED


def test_this_mechanism_is_what_the_sentence_before_describes():
    found = guide("Pass `:eager` to `Quill.load/2` to preload every draft. This option is no "
                  "longer needed: drafts load on first access.",
                  "Stream drafts with `Quill.stream/2`. This approach keeps memory flat.")

    assert [(n.term.text, n.kind, [t.text for t in n.scope]) for n in found] == [
        (":eager", NoticeKind.DEPRECATED, ["Quill.load/2"])]
