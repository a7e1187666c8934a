"""The API vocabulary a page teaches (crawler.vocab); what it announces of those terms
is tests/test_notices.py.

These are what a skill's stale lines and the report's "new terms" rest on: a term
read wrongly from the docs is a false alarm (or a missed one) in the report.
"""

from __future__ import annotations

import pytest

from crawler.types import TermKind
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


def test_a_function_named_as_a_component_is_that_component_too():
    terms = terms_in("Wrap them in the `field_group/1` component, or the `badge` function "
                     "component; `render/1` renders.")

    assert Term("<.field_group>", TermKind.COMPONENT) in terms
    assert Term("<.badge>", TermKind.COMPONENT) in terms
    assert Term("<.render>", TermKind.COMPONENT) not in terms


@pytest.mark.parametrize(("term", "written", "expected"), [
    (Term("<.field_group>", TermKind.COMPONENT), "</.field_group>", True),
    (Term("~M", TermKind.SIGIL), 'do: ~M"<p>{@x}</p>"', True),
    (Term("~M", TermKind.SIGIL), "~MX(a)", False),
    (Term(".mtex", TermKind.EXTENSION), "show.html.mtex", True),
    (Term("settings", TermKind.VARIABLE), "if settings[:strict] do", True),
    (Term("settings", TermKind.VARIABLE), "settings :my_app, strict: true", False),
    (Term("settings", TermKind.VARIABLE), "settings: [strict: true]", False),
    (Term("settings", TermKind.VARIABLE), "config/settings.exs", False),
    (Term("Sprocket.Query.clause", TermKind.TYPE), ":: Sprocket.Query.clause()", True),
    (Term("Sprocket.Query.clause", TermKind.TYPE), "Sprocket.Query.clause(q, :a)", False),
    (Term("Sparse", TermKind.MODULE), "Add the `sparse` package.", True),
    (Term("Sparse", TermKind.MODULE), "A `sparse` matrix.", False),
])
def test_new_kinds_match_where_they_are_used(term, written, expected):
    assert bool(term.pattern().search(written)) is expected
