"""Whose package a skill line's API is (crawler.analysis.owners): a notice speaks for its
own package only, so `timeout:` in `Repo.insert(…)` is Ecto's business, not Oban's.
"""

from __future__ import annotations

import pytest

from crawler.analysis.owners import Namespaces, line_owners

# What each package's docs teach (stored vocabulary entries, "kind:text").
TAUGHT = {
    "phoenix_live_view": ["module:Phoenix.LiveView", "module:Phoenix.LiveView.JS",
                          "module:Phoenix.LiveViewTest", "function:assign_async/3",
                          "function:Phoenix.LiveViewTest.render_click/2",
                          "function:push_event/3"],
    "phoenix_html": ["module:Phoenix.HTML", "module:Phoenix.HTML.Form",
                     "function:Phoenix.HTML.Form.input_value/2"],
    "phoenix": ["module:Phoenix.Router", "module:Phoenix.Endpoint",
                "function:Phoenix.Controller.put_layout/2", "function:push_event/3"],
    "ecto": ["module:Ecto.Repo", "module:Ecto.Changeset", "function:Ecto.Repo.insert/2",
             "function:cast/4", "attribute:phx-ignored", "bogus:entry"],
    "oban": ["module:Oban", "module:Oban.Worker", "function:Oban.insert/2"],
}
NAMES = Namespaces.of(TAUGHT)


def owners(*packages: str) -> frozenset[str]:
    return frozenset(packages)


# -- Namespaces.of -----------------------------------------------------------------------


def test_of_indexes_modules_functions_and_last_segments_by_package():
    assert NAMES.packages == frozenset(TAUGHT)
    assert NAMES.modules["Ecto.Repo"] == owners("ecto")
    # A qualified function teaches its module too.
    assert NAMES.modules["Phoenix.Controller"] == owners("phoenix")
    assert NAMES.segments["Repo"] == owners("ecto")
    assert NAMES.functions["push_event"] == owners("phoenix", "phoenix_live_view")


def test_packages_sharing_one_vocabulary_own_its_names_together_in_one_set():
    # The docs hold equal vocabularies once (thousands of packages built alike): each
    # name's owners are right, and names with the same owners share one set.
    alike = ["module:Glimmer.Palette", "function:Glimmer.Palette.blend/3",
             "function:mix/2"]
    names = Namespaces.of({"glimmer": alike, "glimmer_r1": alike,
                           "aurora": ["module:Aurora.Sky", "function:mix/2"]})

    assert names.modules["Glimmer.Palette"] == owners("glimmer", "glimmer_r1")
    assert names.segments["Palette"] == owners("glimmer", "glimmer_r1")
    assert names.functions["blend"] == owners("glimmer", "glimmer_r1")
    assert names.functions["mix"] == owners("glimmer", "glimmer_r1", "aurora")
    assert names.modules["Aurora.Sky"] == owners("aurora")
    assert names.modules["Glimmer.Palette"] is names.functions["blend"] \
        is names.segments["Palette"]


def test_module_pages_add_their_package_and_leave_every_other_name_shared():
    names = NAMES.with_pages([("https://hexdocs.pm/oban/Oban.Repo.html", "oban"),
                              ("https://hexdocs.pm/ecto/Ecto.Repo.html", "ecto"),
                              ("https://hexdocs.pm/oban/changelog.html", "oban")])

    assert names.modules["Oban.Repo"] == owners("oban")
    assert names.segments["Repo"] == owners("ecto", "oban")
    assert names.modules["Ecto.Repo"] is NAMES.modules["Ecto.Repo"]  # already known
    assert names.segments["Router"] is NAMES.segments["Router"]
    assert "changelog" not in names.modules
    assert NAMES.with_pages([("https://hexdocs.pm/ecto/Ecto.Repo.html", "ecto")]) is NAMES


# -- of_module ---------------------------------------------------------------------------


@pytest.mark.parametrize(("module", "expected"), [
    # Spelled by two segments or more: the name decides.
    ("Phoenix.LiveView.JS", owners("phoenix_live_view")),
    ("Phoenix.HTML.Form", owners("phoenix_html")),
    ("Phoenix.LiveView.Socket", owners("phoenix_live_view")),  # untaught, still spelled
    # Taught by a package's docs, though its name spells no package.
    ("Phoenix.LiveViewTest", owners("phoenix_live_view")),
    # Spelled by its first segment only.
    ("Phoenix.Token", owners("phoenix")),
    ("Ecto.Query", owners("ecto")),
    ("Oban", owners("oban")),
    ("Oban.Testing", owners("oban")),
    # Written through an alias: the packages teaching a module of that last segment.
    ("Repo", owners("ecto")),
    ("JS", owners("phoenix_live_view")),
    ("Controller", owners("phoenix")),
    # Another library's.
    ("Floki", frozenset()),
    ("Jason.Encoder", frozenset()),
])
def test_of_module_spelled_taught_first_segment_then_alias(module, expected):
    assert NAMES.of_module(module) == expected


@pytest.mark.parametrize(("module", "expected"), [
    # The application's own module says what it is by a taught last segment only.
    ("MyApp.Repo", owners("ecto")),
    ("MyApp.Accounts.Repo", owners("ecto")),
    ("MyAppWeb.Endpoint", owners("phoenix")),
    ("HelloWeb.Endpoint", owners("phoenix")),
    ("MyAppWeb.PageController", None),
    ("MyApp.Accounts", None),
    ("MyApp", None),
    ("MyAppWeb", None),
    ("MyApp.Oban", owners("oban")),  # `Oban` is a module the docs teach
    # A segment spelling a package the docs teach no module of says nothing.
    ("MyApp.Ecto", None),
])
def test_the_applications_own_modules_resolve_only_by_a_taught_last_segment(module, expected):
    assert NAMES.of_module(module) == expected


def test_a_spelled_package_wins_over_a_taught_segment():
    names = Namespaces.of({"ecto": ["module:Ecto.Repo"],
                           "phoenix": ["module:Phoenix.Repo"]})

    assert names.of_module("Phoenix.Repo") == owners("phoenix")
    assert names.of_module("Repo") == owners("ecto", "phoenix")  # an alias: either


# -- of_function -------------------------------------------------------------------------


def test_of_function_names_the_packages_teaching_a_function_of_that_name():
    assert NAMES.of_function("cast") == owners("ecto")
    assert NAMES.of_function("insert") == owners("ecto", "oban")  # Repo's and Oban's
    assert NAMES.of_function("push_event") == owners("phoenix", "phoenix_live_view")
    assert NAMES.of_function("render") is None


# -- line_owners -------------------------------------------------------------------------


def at(line: str, needle: str) -> int:
    return line.index(needle)


@pytest.mark.parametrize(("line", "needle", "expected"), [
    ("config :ecto, migration_timestamps: [type: :utc_datetime]", "migration",
     owners("ecto")),  # the application key is a package
    ('config :my_app, MyApp.Repo, prefix: "tenant"', "prefix", owners("ecto")),
    ("config :my_app, MyAppWeb.Endpoint, url: [host: \"x\"]", "url", owners("phoenix")),
    ("config :my_app, Oban, queues: [default: 10]", "queues", owners("oban")),
    # an application module no docs teach, and nothing else on the line: nobody's
    ("config :my_app, MyApp.Mailer, adapter: Swoosh", "adapter", frozenset()),
    ("config :my_app, Jason.Codec, pretty: true", "pretty", frozenset()),
    ("config :my_app, timeout: 5_000", "timeout", None),
])
def test_a_config_line_belongs_to_its_application_or_module(line, needle, expected):
    assert line_owners(line, at(line, needle), NAMES) == expected


@pytest.mark.parametrize(("line", "needle", "expected"), [
    ("Repo.insert(changeset, timeout: 5_000)", "timeout", owners("ecto")),
    ('Oban.insert(job, timeout: 5_000)', "timeout", owners("oban")),
    # The innermost call around the use decides.
    ('JS.push("save", value: Repo.insert(cs, timeout: 1))', "timeout", owners("ecto")),
    ('JS.push("save", value: Repo.insert(cs), timeout: 1)', "timeout",
     owners("phoenix_live_view")),
    # A bare call: the packages teaching that function.
    ("cast(user, attrs, [:name], empty_values: [nil])", "empty_values", owners("ecto")),
    # An application module that says nothing: the enclosing call decides.
    ("Repo.insert(MyApp.Accounts.new(timeout: 1))", "timeout", owners("ecto")),
    # Another library's call says it is none of these packages'.
    ('Req.get!(url, timeout: 1)', "timeout", frozenset()),
])
def test_the_call_around_a_use_owns_it(line, needle, expected):
    assert line_owners(line, at(line, needle), NAMES) == expected


def test_a_module_named_on_the_line_decides_when_no_call_does():
    line = "Pass `timeout: 5_000` to Phoenix.HTML.Form helpers."

    assert line_owners(line, at(line, "timeout"), NAMES) == owners("phoenix_html")


@pytest.mark.parametrize("line", [
    "Raise `timeout: 5_000` when jobs are slow.",
    "Plug the logger in with `timeout: 5_000`.",  # "Plug": an English word, not a module
    "Oban runs jobs with `timeout: 5_000`.",  # one capitalised word could be English too
    "unknown(params, timeout: 5_000)",  # a call no docs teach
])
def test_a_line_that_says_nothing_has_no_owner(line):
    assert line_owners(line, at(line, "timeout"), NAMES) is None


def test_the_subject_module_cannot_say_whose_it_is():
    # Judging LiveView's notice about `Floki`: Floki itself tells nothing, the line's
    # other calls do.
    alone = 'html |> Floki.find("a")'
    in_test = 'LiveViewTest.rendered_to_string(Floki.find(doc, "a"))'
    in_enum = 'Enum.map(Floki.find(doc, "a"), &Floki.text/1)'

    assert line_owners(alone, at(alone, "Floki"), NAMES, subject="Floki") is None
    assert line_owners(in_test, at(in_test, "Floki"), NAMES, subject="Floki") == owners(
        "phoenix_live_view")
    assert line_owners(in_enum, at(in_enum, "Floki"), NAMES, subject="Floki") == frozenset()
    # Asked about something else, Floki's call answers: another library's.
    assert line_owners(alone, at(alone, "Floki"), NAMES) == frozenset()


def test_the_subject_is_skipped_by_its_alias_and_its_submodules():
    line = 'Phoenix.LiveView.JS.push("x", value: LiveView.get(1))'
    # The subject Phoenix.LiveView: its alias `LiveView` and `Phoenix.LiveView.JS` are it.
    assert line_owners(line, at(line, "1"), NAMES, subject="Phoenix.LiveView") is None
    assert line_owners(line, at(line, "1"), NAMES) == owners("phoenix_live_view")
