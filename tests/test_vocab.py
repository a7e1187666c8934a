"""The API vocabulary a page teaches and the deprecations it announces (crawler.vocab).

These are what a skill's stale lines and the report's "new terms" rest on: a term
read wrongly from the docs is a false alarm (or a missed one) in the report.
"""

from __future__ import annotations

import pytest

from crawler.notices import Shape, notices
from crawler.vocab import Term, classify, terms_in, vocabulary

# -- classify / terms_in -------------------------------------------------------------


@pytest.mark.parametrize(("code", "expected"), [
    ("Phoenix.LiveView.JS", Term("Phoenix.LiveView.JS", "module")),
    ("assign_async/3", Term("assign_async/3", "function")),
    ("Ecto.Multi.run/3", Term("Ecto.Multi.run/3", "function")),
    ("valid?/1", Term("valid?/1", "function")),
    # A call names the function without its arity.
    ("Repo.transaction(fn -> insert_all() end)", Term("Repo.transaction", "function")),
    ("mix phx.gen.auth Accounts User users", Term("mix phx.gen.auth", "mix_task")),
    ('phx-update="stream"', Term("phx-update", "attribute")),
    ("phx-click", Term("phx-click", "attribute")),
    ('<.link navigate={~p"/books"}>Books</.link>', Term("<.link>", "component")),
    (":trailing_slash", Term(":trailing_slash", "option")),
    ("use Sparkle.Component, global: true", Term("Sparkle.Component", "module")),
])
def test_classify_names_the_kind_of_api_term(code, expected):
    assert classify(code) == expected


@pytest.mark.parametrize("code", ["true", '"string"', "config", "42", "nil", "x + y",
                                  "phx-", "%{}"])
def test_classify_ignores_values_and_plain_words(code):
    assert classify(code) is None


def test_terms_in_reads_inline_code_and_bare_attributes_once_in_order():
    text = ("Bind `phx-click` to a button, then set `phx-update=\"stream\"` on the list.\n"
            "Call `assign_async/3` with `true`, a `\"string\"` and the `config`.\n"
            "Prose can also say phx-submit without backticks, or phx-click again.")

    assert terms_in(text) == [Term("phx-click", "attribute"), Term("phx-update", "attribute"),
                              Term("assign_async/3", "function"),
                              Term("phx-submit", "attribute")]


def test_bare_attribute_must_stand_alone():
    # Inside a longer CSS class name it is not a binding; at a sentence's end it is.
    assert terms_in("the my-phx-glow class") == []
    assert terms_in("Finally, add phx-glow.") == [Term("phx-glow", "attribute")]


def test_vocabulary_ignores_terms_inside_code_fences():
    text = "\n".join([
        "# Streams",
        "Use `stream/3` and set phx-update on the container.",
        "```elixir",
        "socket |> assign_async(:org, fn -> `fetch_org/1` end)",
        "<div phx-hook=\"Chart\">",
        "```",
        "Then `Sparkle.Stream` does the rest.",
    ])

    assert vocabulary(text) == ["attribute:phx-update", "function:stream/3",
                                "module:Sparkle.Stream"]


# -- notices -----------------------------------------------------------------------


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


# -- Term.pattern --------------------------------------------------------------------


def matches(term: Term, text: str) -> bool:
    return bool(term.pattern().search(text))


@pytest.mark.parametrize(("text", "expected"), [
    ("Repo.transaction(fn -> insert(changeset) end)", True),
    ("wrap it in `Repo.transaction(multi)`", True),
    ("see Repo.transactions for the list", False),
    ("MyRepo.transaction_log(entry)", False),
    ("Repo.transaction_log(entry)", False),
])
def test_qualified_function_pattern_matches_calls_through_the_alias(text, expected):
    assert matches(Term("Ecto.Repo.transaction/2", "function"), text) is expected


@pytest.mark.parametrize(("term", "line"), [
    ("Ecto.Repo.transaction/2", "Ecto.Repo.transaction(fn -> :ok end)"),
    ("Sparkle.Effects.dim/1", "Sparkle.Effects.dim(element)"),
])
def test_qualified_function_pattern_matches_the_fully_qualified_call(term, line):
    assert matches(Term(term, "function"), line)


@pytest.mark.parametrize(("text", "expected"), [
    ("where: p.id == literal(^field)", True),
    ("see literal/1", True),
    ("taken literally", False),
    ("Ecto.literal_thing(x)", False),
    ("a literal value", False),
])
def test_unqualified_function_pattern_needs_a_call_or_capture(text, expected):
    assert matches(Term("literal/1", "function"), text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("live \"/\", Home, trailing_slash: true", True),
    ("set `:trailing_slash` in the router", True),
    ("trailing_slashes: true", False),
    ("a trailing_slash rule", False),
])
def test_option_pattern_matches_the_atom_and_the_keyword(text, expected):
    assert matches(Term(":trailing_slash", "option"), text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ('<input phx-feedback-for="email">', True),
    ('<input phx-feedback-for-x="email">', False),
    ('<input data-phx-feedback-for="email">', False),
])
def test_attribute_pattern_matches_the_whole_attribute(text, expected):
    assert matches(Term("phx-feedback-for", "attribute"), text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Floki.find(html, \"a\")", True),
    ("use Floki.find/2 here", True),
    ("parse it with `Floki`", True),
    ("FlokiExtra.parse(html)", False),
    ("Acme.Floki.parse(html)", False),
])
def test_module_pattern_matches_the_whole_module_name(text, expected):
    assert matches(Term("Floki", "module"), text) is expected


def test_component_and_mix_task_patterns():
    link = Term("<.link>", "component")
    task = Term("mix phx.gen.auth", "mix_task")

    assert matches(link, '<.link navigate={~p"/"}>Home</.link>')
    assert not matches(link, "<.link_button>")
    assert matches(task, "run mix phx.gen.auth Accounts User users")
    assert not matches(task, "mix phx.gen.auth_extra")


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


def test_vocabulary_skips_every_fenced_block_and_an_unclosed_one():
    text = "\n".join(["Use `a/1`.", "```", "`b/1`", "```", "Then `c/1`.", "```elixir",
                      "`d/1`", "```", "And `e/1`.", "```", "`f/1` never closed"])

    assert vocabulary(text) == ["function:a/1", "function:c/1", "function:e/1"]


def test_bare_attributes_are_found_after_a_rejected_one():
    assert terms_in("my-phx-glow, phx-glow and data-phx-x phx-dim.") == [
        Term("phx-glow", "attribute"), Term("phx-dim", "attribute")]


@pytest.mark.parametrize(("term", "line"), [
    (Term("Ecto.Repo.transaction/2", "function"), "Ecto.Repo.transaction(fn -> :ok end)"),
    (Term("literal/1", "function"), "see literal/1"),
    (Term(":trailing_slash", "option"), "trailing_slash: true"),
    (Term(":trailing_slash", "option"), "set :trailing_slash"),
    (Term("phx-update", "attribute"), '<ul phx-update="stream">'),
    (Term("<.link>", "component"), "<.link navigate={~p\"/\"}>"),
    (Term("mix phx.gen.auth", "mix_task"), "run mix phx.gen.auth Accounts"),
    (Term("Floki", "module"), "Floki.find(html)"),
])
def test_every_match_of_a_term_contains_its_literal(term, line):
    match = term.pattern().search(line)

    assert match
    assert term.literal() in line
