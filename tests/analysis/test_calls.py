"""Reading the calls on a skill line (crawler.analysis.calls): which function, on which
module, with which arguments, and whether a call is written the way a notice retires.

A call read wrongly makes a stale line of a supported usage (or misses a retired one):
`Repo.transaction(multi)` is fine where `Repo.transaction(fn -> … end)` is not.
"""

from __future__ import annotations

import pytest

from crawler.analysis.calls import Call, arg_kinds, calls_in, has_shape, like
from crawler.notices import ArgKind, Shape


def read(line: str) -> list[tuple[str | None, str, tuple[str, ...]]]:
    return [(c.module, c.name, c.args) for c in calls_in(line)]


def call(line: str) -> Call:
    """The first call on ``line``."""
    return calls_in(line)[0]


# -- calls_in ----------------------------------------------------------------------------


def test_a_call_with_parentheses_names_its_module_and_top_level_arguments():
    assert read('Repo.insert(changeset, on_conflict: :nothing, conflict_target: [:id])') == [
        ("Repo", "insert", ("changeset", "on_conflict: :nothing", "conflict_target: [:id]"))]
    assert read('Phoenix.LiveView.JS.push("save", value: %{a: 1, b: 2})') == [
        ("Phoenix.LiveView.JS", "push", ('"save"', "value: %{a: 1, b: 2}"))]


def test_commas_inside_strings_and_brackets_do_not_split_arguments():
    assert call('put_flash(conn, :info, "Saved, thanks")').args == (
        "conn", ":info", '"Saved, thanks"')
    assert call("Enum.reduce(list, {0, []}, fn x -> [x] end)").args == (
        "list", "{0, []}", "fn x -> [x] end")


def test_an_anonymous_function_of_two_parameters_is_one_argument():
    run = call("Ecto.Multi.run(multi, :user, fn repo, _changes -> repo.insert(cs) end)")

    assert (run.args[2], run.arity) == ("fn repo, _changes -> repo.insert(cs) end", 3)


def test_nested_calls_are_each_read_in_order_of_their_start():
    assert read("Enum.map(list, fn x -> String.upcase(x) end)") == [
        ("Enum", "map", ("list", "fn x -> String.upcase(x) end")),
        ("String", "upcase", ("x",))]


def test_a_piped_call_has_the_pipes_subject_as_its_first_argument():
    first, second = calls_in('socket |> assign(:count, 0) |> push_event("tick", %{})')

    assert (first.name, first.piped, first.arity) == ("assign", True, 3)
    assert (second.name, second.piped, second.arity) == ("push_event", True, 3)
    assert call("data |> Sparkle.glow()").arity == 1


def test_a_definition_is_not_a_call():
    [render] = calls_in("def render(assigns) do")
    [glow] = calls_in("defp glow(el, opts \\\\ []), do: el")

    assert (render.name, render.definition, render.arity) == ("render", True, 1)
    assert (glow.name, glow.definition, glow.arity) == ("glow", True, 2)
    assert not call("render(conn, :index)").definition


@pytest.mark.parametrize(("line", "expected"), [
    ('live "/", HomeLive, :index', ("live", ('"/"', "HomeLive", ":index"))),
    ("pipe_through :browser", ("pipe_through", (":browser",))),
    ('scope "/", MyAppWeb do', ("scope", ('"/"', "MyAppWeb"))),
    ('<%= link "Home", to: ~p"/" %>', ("link", ('"Home"', 'to: ~p"/"'))),
    ('socket = assign socket, :count, 0', ("assign", ("socket", ":count", "0"))),
])
def test_a_bare_call_at_a_statements_start_is_read_without_parentheses(line, expected):
    [found] = calls_in(line)

    assert (found.name, found.args, found.parens) == (*expected, False)


@pytest.mark.parametrize("line", [
    "Use the glow to make it shine",  # prose: "Use" is capitalised, "the" is not a call
    "if connected do",
    "alias MyApp.Repo",
])
def test_syntax_and_prose_are_not_bare_calls(line):
    assert [c.name for c in calls_in(line) if not c.parens] == []


def test_a_function_plug_calls_the_function_with_conn_and_its_options():
    put_layout = next(c for c in calls_in("plug :put_layout, html: :admin")
                      if c.name == "put_layout")
    fetch = next(c for c in calls_in("plug :fetch_session") if c.name == "fetch_session")

    assert (put_layout.module, put_layout.args, put_layout.arity) == (
        None, ("conn", "html: :admin"), 2)
    assert fetch.arity == 2


def test_an_unclosed_call_takes_the_rest_of_the_line():
    [glow] = calls_in('Sparkle.glow(el, color: "red"')

    assert glow.args == ("el", 'color: "red"')


def test_an_erlang_module_call_is_a_call_of_that_module():
    assert read(":telemetry.attach(id, event, &handle/4, nil)") == [
        (":telemetry", "attach", ("id", "event", "&handle/4", "nil"))]


def test_an_anonymous_function_call_is_not_a_named_call():
    assert read('f.("x")') == []


# -- Call.arity and Call.option ------------------------------------------------------------


@pytest.mark.parametrize(("line", "arity"), [
    ("Repo.insert(changeset)", 1),
    ("Repo.insert(changeset, returning: true, prefix: \"t\")", 2),  # keywords: one list
    ("Repo.insert(changeset, [returning: true])", 2),
    ("changeset |> Repo.insert(returning: true)", 2),
    ("Repo.all()", 0),
])
def test_arity_counts_trailing_keywords_as_one_and_the_pipe_subject(line, arity):
    assert call(line).arity == arity


def test_option_reads_trailing_keywords_and_a_keyword_list_argument():
    trailing = call('Repo.insert(cs, on_conflict: {:replace, [:a, :b]}, prefix: "t")')
    listed = call("Repo.insert(cs, [on_conflict: :nothing])")

    assert trailing.option("on_conflict") == "{:replace, [:a, :b]}"
    assert trailing.option("prefix") == '"t"'
    assert listed.option("on_conflict") == ":nothing"
    assert trailing.option("returning") is None
    # A map is not a keyword list: its keys are not the call's options.
    assert call("Sparkle.glow(%{on_conflict: :x})").option("on_conflict") is None


# -- arg_kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize(("arg", "kinds"), [
    ("~w(name email)", {ArgKind.LIST_OF_STRINGS}),
    ("~w[name email]", {ArgKind.LIST_OF_STRINGS}),
    ('["name", "email"]', {ArgKind.LIST_OF_STRINGS}),
    ("~w(name email)a", set()),  # a list of atoms
    ("[:name, :email]", set()),
    ('"name"', {ArgKind.STRING}),
    ("'name'", {ArgKind.STRING}),
    ("~s(name)", {ArgKind.STRING}),
    ("[returning: true]", {ArgKind.KEYWORD_LIST}),
    ("[returning: true, prefix: 1]", {ArgKind.KEYWORD_LIST}),
    ("fn x -> x end", {ArgKind.FUNCTION, ArgKind.LOCAL_FUNCTION}),
    ("fn -> :ok end", {ArgKind.FUNCTION, ArgKind.LOCAL_FUNCTION}),
    ("&run/1", {ArgKind.FUNCTION, ArgKind.LOCAL_FUNCTION}),
    ("&Worker.run/1", {ArgKind.FUNCTION}),  # an external capture is not a local one
    ("&(&1 + 1)", {ArgKind.FUNCTION}),
    ("fnord", set()),  # a variable that starts with "fn"
    ("%{a: 1}", {ArgKind.MAP}),
    ("{:ok, 1}", {ArgKind.TUPLE}),
    ("{MyApp.Worker, :run, [1]}", {ArgKind.TUPLE, ArgKind.MFA}),
    ("{MyApp.Worker, :run}", {ArgKind.TUPLE}),  # no arguments: not an MFA
    (":print", {ArgKind.ATOM}),
    ("layout", set()),
    ("42", set()),
])
def test_arg_kinds_names_what_a_written_argument_is(arg, kinds):
    assert arg_kinds(arg) == frozenset(kinds)


# -- has_shape ---------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "shape", "expected"), [
    ("Repo.transaction(fn -> :ok end)", Shape(arg=ArgKind.FUNCTION), True),
    ("Repo.transaction(multi)", Shape(arg=ArgKind.FUNCTION), False),
    ("cast(user, attrs, ~w(name email))", Shape(arg=ArgKind.LIST_OF_STRINGS), True),
    ("cast(user, attrs, ~w(name email)a)", Shape(arg=ArgKind.LIST_OF_STRINGS), False),
    # "as a string": the first literal argument is the one meant.
    ('Sparkle.glow(el, "red", :soft)', Shape(arg=ArgKind.STRING), True),
    ('Sparkle.glow(el, :red, "soft")', Shape(arg=ArgKind.STRING), False),
    # The last argument is the options, a keyword list by design.
    ("Sparkle.glow(el, [color: :red])", Shape(arg=ArgKind.KEYWORD_LIST), False),
    ("Sparkle.glow([color: :red], el)", Shape(arg=ArgKind.KEYWORD_LIST), True),
    ("Sparkle.glow(el)", Shape(), True),
])
def test_has_shape_by_the_kind_of_an_argument(line, shape, expected):
    assert has_shape(call(line), shape) is expected


@pytest.mark.parametrize(("line", "shape", "expected"), [
    ('Sparkle.glow(el, color: "red")', Shape(option="color"), True),
    ("Sparkle.glow(el)", Shape(option="color"), False),
    ('Sparkle.glow(el, color: "red")', Shape(arg=ArgKind.STRING, option="color"), True),
    ("Sparkle.glow(el, color: :red)", Shape(arg=ArgKind.STRING, option="color"), False),
    ("Repo.insert(cs, on_conflict: {:constraint, :pk})",
     Shape(option="on_conflict", value="{:constraint, _}"), True),
    ("Repo.insert(cs, on_conflict: {:replace, [:a]})",
     Shape(option="on_conflict", value="{:constraint, _}"), False),
    ("Sparkle.glow(el)", Shape(option="formats", absent=True), True),
    ("Sparkle.glow(el, formats: [:html])", Shape(option="formats", absent=True), False),
])
def test_has_shape_by_an_option(line, shape, expected):
    assert has_shape(call(line), shape) is expected


@pytest.mark.parametrize(("line", "expected"), [
    ("put_layout(conn, :print)", True),
    ("put_layout(conn, :admin)", True),  # the docs' atom stands for any atom
    ("put_layout(socket, :admin)", True),  # a variable for anything
    ("put_layout(conn, {MyAppWeb.Layouts, :app})", False),
    ("put_layout(conn, false)", False),
    ("put_layout(conn)", False),
    ("conn |> put_layout(:print)", True),  # the pipe's subject fills the first argument
    ("conn |> put_layout(html: :admin)", False),
])
def test_has_shape_by_the_docs_example_call(line, expected):
    assert has_shape(call(line), Shape(example=("conn", ":print"))) is expected


# -- like --------------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "pattern", "expected"), [
    ("anything(at, all)", "_", True),
    ("socket", "conn", True),  # a variable in the docs matches anything
    (":admin", ":print", True),  # a literal at the top: any of its kind
    ('"admin"', ":print", False),
    ("42", "7", True),
    ('"a"', "'b'", True),
    ("layout", ":print", False),  # a variable is not a literal
    # Inside a tuple or a list, a literal is itself.
    ("{:constraint, :users_pkey}", "{:constraint, _}", True),
    ("{:unsafe_fragment, :users_pkey}", "{:constraint, _}", False),
    ("{:constraint, :users_pkey, 1}", "{:constraint, _}", False),
    ("[:a, :b]", "[:a, _]", True),
    ("[:c, :b]", "[:a, _]", False),
    ("%{a: 1}", "%{a: _}", True),
    ("%{b: 1}", "%{a: _}", False),
    ("[a: 1]", "[a: :x]", False),
    # A keyword matches the same key, its value as a pattern.
    ("on_conflict: :nothing", "on_conflict: _", True),
    ("conflict_target: :nothing", "on_conflict: _", False),
    ("on_conflict: {:constraint, :pk}", "on_conflict: {:constraint, _}", True),
    # Anything else: the same code, spacing aside.
    ("Layouts.app( conn )", "Layouts.app(conn)", False),
    ("Layouts  . app", "Layouts . app", True),
])
def test_like_matches_written_code_against_the_docs_pattern(written, pattern, expected):
    assert like(written, pattern) is expected
