"""Extraction: the text a reader reads, the same whatever ExDoc version rendered it.

The fixtures are one short guide ("Retrying jobs", for an imaginary job queue called
Quill) rendered three ways: an ExDoc 0.34-style page, an ExDoc 0.40-style page with
different chrome, attribute order, asset digests and whitespace, and the Markdown source.
"""

from __future__ import annotations

import pytest

from crawler.extract import (
    ATTR_LIST,
    SPACES_BLOCK,
    collapse_spaces,
    content_hash,
    extract_exdoc,
    extract_html,
    extract_markdown,
    without_attr_list,
)

# ExDoc 0.34 layout: the guide sits in #top-content; the h1 carries a "View Source" link;
# list items wrap their text in <p>; a paragraph is wrapped across two lines.
EXDOC_034 = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="ExDoc v0.34.2">
<title>Retrying jobs — Quill v0.9.0</title>
<link rel="stylesheet" href="dist/html-elixir-1a2b3c4d5e.css" />
<script src="dist/sidebar_items-0A1B2C3D4E.js"></script>
</head>
<body data-type="extras" class="page-extra">
<nav id="sidebar" class="sidebar"><div class="sidebar-projectName">Quill</div></nav>
<main class="content">
<div id="content" class="content-inner">
<div class="top-search">
<form class="search-bar" action="search.html">
<span class="sr-only">Search documentation of Quill</span>
<input name="q" type="text" class="search-input" placeholder="Press / to search" />
</form>
</div>
<div id="top-content">
<h1><a href="https://example.invalid/quill/blob/v0.9.0/guides/retrying.md#L1"
 title="View Source" class="icon-action" rel="help"><i class="ri-code-s-slash-line"
 aria-hidden="true"></i><span class="sr-only">View Source</span></a><span>Retrying jobs</span></h1>
<p>A job that raises is tried again later. Quill waits a little longer after each failure,
so a flaky service gets time to recover.</p>
<h2 id="limits" class="section-heading"><a href="#limits" class="hover-link"><i
 class="ri-link-m" aria-hidden="true"></i></a><span class="text">Limits</span></h2>
<p>Set <code class="inline">max_attempts</code> on the worker to cap the number of tries.</p>
<ul>
<li><p>The default is five attempts.</p></li>
<li><p>A value of one turns retries off.</p></li>
</ul>
<pre><code class="makeup elixir" translate="no"><span class="kd">defmodule</span> <span class="nc">Mailer</span> <span class="k">do</span>
  <span class="kn">use</span> <span class="nc">Quill.Worker</span><span class="p">,</span> <span class="ss">max_attempts:</span> <span class="mi">3</span>
<span class="k">end</span></code></pre>
<table>
<thead><tr><th>Attempt</th><th>Delay</th></tr></thead>
<tbody><tr><td>1</td><td>10 seconds</td></tr><tr><td>2</td><td>40 seconds</td></tr></tbody>
</table>
<section class="admonition warning">
<h4 class="admonition-title">Side effects</h4>
<p>Make the job safe to run twice: an email may be sent again.</p>
</section>
</div>
<div class="bottom-actions" id="bottom-actions">
<a href="queues.html" class="bottom-actions-button" rel="prev"><span
 class="subheader">Previous Page</span> <span class="title">Queues</span></a>
</div>
<footer class="footer">
<p class="built-using">Built using <a href="https://example.invalid/ex_doc">ExDoc</a>
 (v0.34.2) for the Elixir programming language</p>
</footer>
</div>
</main>
</body>
</html>
"""  # noqa: E501 (highlighted code lines cannot be wrapped)

# ExDoc 0.40 layout: main#main, a heading-with-actions block with a "Copy Markdown" link,
# other digests, attribute order and indentation, <li> without <p>. It has no #top-content
# wrapper, so the search bar, bottom actions, footer and an inline script sit inside the
# extracted area and must be dropped as chrome.
EXDOC_040 = """\
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta content="ExDoc v0.40.0" name="generator">
<title>Retrying jobs — Quill v0.9.1</title>
<link href="dist/html-elixir-9f8e7d6c5b.css" rel="stylesheet">
<script src="dist/sidebar_items-9Z8Y7X6W5V.js"></script></head>
<body><nav class="sidebar" id="sidebar" aria-label="Sidebar"></nav>
<main id="main" class="content page-extra" data-type="extras">
<div class="content-inner" id="content">
  <div class="top-search"><form action="search.html" class="search-bar">
    <span class="sr-only">Search documentation of Quill</span>
    <input placeholder="Press / to search" class="search-input" type="text" name="q">
  </form></div>
  <div class="heading-with-actions top-heading">
    <h1>Retrying jobs</h1>
    <a title="Copy Markdown" href="retrying.md" class="copy-markdown icon-action" rel="help">
      <i aria-hidden="true" class="ri-markdown-line"></i><span class="sr-only">Copy Markdown</span>
    </a>
    <a rel="help" class="icon-action" title="View Source"
       href="https://example.invalid/quill/blob/v0.9.1/guides/retrying.md#L1"
       ><span class="sr-only">View Source</span></a>
  </div>
  <p>A job that raises is tried again later.   Quill waits a little longer after each failure, so a flaky service gets time to recover.</p>
  <h2 class="section-heading" id="limits">
    <a class="hover-link" href="#limits"><i class="ri-link-m" aria-hidden="true"></i></a>
    <span class="text">Limits</span>
  </h2>
  <p>Set <code class="inline">max_attempts</code> on the worker to cap the number of tries.</p>
  <ul><li>The default is five attempts.</li><li>A value of one turns retries off.</li></ul>
  <pre><code translate="no" class="makeup elixir"><span class="kd">defmodule</span> <span class="nc">Mailer</span> <span class="k">do</span>
  <span class="kn">use</span> <span class="nc">Quill.Worker</span><span class="p">,</span> <span class="ss">max_attempts:</span> <span class="mi">3</span>
<span class="k">end</span></code></pre>
  <table>
    <thead><tr><th>Attempt</th> <th>Delay</th></tr></thead>
    <tbody><tr><td>1</td> <td>10 seconds</td></tr><tr><td>2</td> <td>40 seconds</td></tr></tbody>
  </table>
  <section class="admonition warning"><h4 class="admonition-title">Side effects</h4><p>Make
    the job safe to run twice: an email may be sent again.</p></section>
  <div id="bottom-actions" class="bottom-actions">
    <a rel="prev" class="bottom-actions-button" href="queues.html"><span
       class="subheader">Previous Page</span> <span class="title">Queues</span></a>
  </div>
  <footer class="footer"><p class="built-using">Built using
    <a href="https://example.invalid/ex_doc">ExDoc</a> (v0.40.0) for the Elixir programming
    language</p></footer>
  <script>window.quillAnalytics = "page-view";</script>
</div></main></body></html>
"""  # noqa: E501 (highlighted code lines cannot be wrapped)

# The Markdown source ExDoc publishes next to the page (the ``.md`` twin).
MARKDOWN = """# Retrying jobs

A job that raises is tried again later. Quill waits a little longer after each failure,
so a flaky service gets time to recover.

## Limits

Set `max_attempts` on the worker to cap the number of tries.

- The default is five attempts.
- A value of one turns retries off.

```elixir
defmodule Mailer do
  use Quill.Worker, max_attempts: 3
end
```

| Attempt | Delay |
|---------|-------|
| 1 | 10 seconds |
| 2 | 40 seconds |

> #### Side effects {: .warning}
>
> Make the job safe to run twice: an email may be sent again.
"""


def edited(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced; fails loudly if the fixture no longer contains ``old``."""
    assert old in text, f"fixture does not contain {old!r}"
    return text.replace(old, new)


# What all three renderings must come down to: the normal form a diff is taken of.
GUIDE_TEXT = """\
# Retrying jobs

A job that raises is tried again later. Quill waits a little longer after each failure, \
so a flaky service gets time to recover.

## Limits

Set `max_attempts` on the worker to cap the number of tries.

- The default is five attempts.
- A value of one turns retries off.

```
defmodule Mailer do
  use Quill.Worker, max_attempts: 3
end
```

| Attempt | Delay |
| 1 | 10 seconds |
| 2 | 40 seconds |

> #### Side effects
>
> Make the job safe to run twice: an email may be sent again.
"""


@pytest.mark.parametrize("html", [EXDOC_034, EXDOC_040], ids=["exdoc-0.34", "exdoc-0.40"])
def test_exdoc_page_gives_the_normalised_guide_text(html: str):
    assert extract_exdoc(html).text == GUIDE_TEXT


def test_two_exdoc_versions_of_the_same_guide_hash_the_same():
    old, new = extract_exdoc(EXDOC_034), extract_exdoc(EXDOC_040)
    assert "Retrying jobs" in old.text  # not two empty extractions
    assert old.hash == new.hash


def test_markdown_source_gives_the_same_text_as_the_html_page():
    from_markdown = extract_markdown(MARKDOWN)
    assert from_markdown.text == extract_exdoc(EXDOC_034).text
    assert from_markdown.hash == extract_exdoc(EXDOC_040).hash
    assert from_markdown.title == "Retrying jobs"


@pytest.mark.parametrize("html", [EXDOC_034, EXDOC_040], ids=["exdoc-0.34", "exdoc-0.40"])
def test_title_is_the_h1_text_without_source_links(html: str):
    assert extract_exdoc(html).title == "Retrying jobs"


CHROME_034 = ["View Source", "Search documentation", "Press / to search", "Previous Page",
              "Queues", "Built using", "ExDoc", "v0.34"]
CHROME_040 = ["View Source", "Copy Markdown", "Search documentation", "Press / to search",
              "Previous Page", "Queues", "Built using", "ExDoc", "v0.40", "quillAnalytics"]


@pytest.mark.parametrize(("html", "chrome"), [
    *((EXDOC_034, c) for c in CHROME_034),
    *((EXDOC_040, c) for c in CHROME_040),
])
def test_no_exdoc_chrome_in_the_text(html: str, chrome: str):
    assert chrome in html  # the fixture does carry it
    assert chrome not in extract_exdoc(html).text


@pytest.mark.parametrize("html", [EXDOC_034, EXDOC_040], ids=["exdoc-0.34", "exdoc-0.40"])
def test_structure_becomes_markdown_like_lines(html: str):
    lines = extract_exdoc(html).text.splitlines()
    assert lines[0] == "# Retrying jobs"
    assert "## Limits" in lines
    assert "- The default is five attempts." in lines
    assert "- A value of one turns retries off." in lines
    assert "Set `max_attempts` on the worker to cap the number of tries." in lines
    assert "| 1 | 10 seconds |" in lines


@pytest.mark.parametrize("html", [EXDOC_034, EXDOC_040], ids=["exdoc-0.34", "exdoc-0.40"])
def test_code_block_is_kept_verbatim_inside_fences(html: str):
    fenced = "```\ndefmodule Mailer do\n  use Quill.Worker, max_attempts: 3\nend\n```"
    assert fenced in extract_exdoc(html).text


def test_admonition_is_a_quote_whichever_way_it_was_written():
    quote = "> #### Side effects\n>\n> Make the job safe to run twice: an email may be sent again."
    assert quote in extract_exdoc(EXDOC_034).text
    assert quote in extract_markdown(MARKDOWN).text
    assert "{: .warning}" not in extract_markdown(MARKDOWN).text


def test_one_word_edit_changes_the_hash():
    before = extract_exdoc(EXDOC_034)
    after = extract_exdoc(edited(EXDOC_034, "five attempts", "six attempts"))
    assert "- The default is six attempts." in after.text
    assert after.hash != before.hash


def test_reflowing_a_paragraph_does_not_change_the_hash():
    reflowed = edited(EXDOC_034, "after each failure,\nso a flaky service",
                      "after   each\n\tfailure, so a\n      flaky service")
    assert extract_exdoc(reflowed).hash == extract_exdoc(EXDOC_034).hash


def test_whitespace_between_tags_does_not_change_the_hash():
    spaced = edited(EXDOC_034, "<ul>\n<li><p>", "<ul>\n\n   <li>\n  <p>")
    spaced = edited(spaced, "</h1>\n<p>", "</h1>\n\n\n    <p>")
    assert extract_exdoc(spaced).hash == extract_exdoc(EXDOC_034).hash


def test_nbsp_and_zero_width_characters_are_normalised():
    odd = edited(EXDOC_034, "five attempts", "five&nbsp;attempts")
    odd = edited(odd, "turns retries off", "turns re\u200btries\u00a0off\ufeff")
    odd = edited(odd, "<span>Retrying jobs</span>", "<span>Retrying\u2009jobs\u200d</span>")
    result = extract_exdoc(odd)
    assert result.title == "Retrying jobs"
    assert result.hash == extract_exdoc(EXDOC_034).hash


def test_script_and_style_content_is_dropped():
    html = (
        "<html><body><main>"
        "<p>Before.</p>"
        "<script>trackVisit('retrying');</script>"
        "<style>p { margin: 0 }</style>"
        "<p>After <script>inline()</script>the scripts.</p>"
        "</main></body></html>"
    )
    assert extract_html(html).text == "Before.\n\nAfter the scripts.\n"


def test_extract_html_keeps_only_the_selected_part_minus_dropped_nodes():
    html = (
        "<html><head><title>Queues — Quill</title></head><body>"
        "<nav>Home | Guides</nav>"
        "<article><h2>Queues</h2><p>Each queue has its own limit.</p>"
        '<div class="ad">Try Quill Pro!</div></article>'
        "</body></html>"
    )
    result = extract_html(html, select="article", drop=(".ad",))
    assert result.text == "## Queues\n\nEach queue has its own limit.\n"
    assert result.title == "Queues — Quill"  # no h1: the <title> is the title


def test_comment_in_a_code_block_is_not_taken_as_the_title():
    html = (
        "<html><head><title>Deploying</title></head><body>"
        "<pre><code># build the release\nmix release</code></pre>"
        "</body></html>"
    )
    assert extract_html(html).title == "Deploying"


def test_cross_package_links_moving_to_subdomains_change_no_text():
    """ExDoc builds after hexdocs.pm's move autolink other packages in the subdomain form:
    a rebuild that only rewrites those links is no change of the guide."""
    page = ('<main class="content" id="main"><div id="content"><h1>Forms</h1>'
            '<p>See <a href="{href}"><code class="inline">Ecto.Changeset</code></a>.</p>'
            '</div></main>')
    old = extract_exdoc(page.format(href="https://hexdocs.pm/ecto/Ecto.Changeset.html"))
    new = extract_exdoc(page.format(href="https://ecto.hexdocs.pm/Ecto.Changeset.html"))
    assert "Ecto.Changeset" in new.text
    assert content_hash(old.text) == content_hash(new.text)
    markdown = "# Forms\n\nSee [`Ecto.Changeset`]({href}).\n"
    assert extract_markdown(markdown.format(href="https://hexdocs.pm/ecto/Ecto.Changeset.html")
                            ).text == extract_markdown(markdown.format(
                                href="https://ecto.hexdocs.pm/Ecto.Changeset.html")).text


# -- long text ------------------------------------------------------------------------


def test_spaces_of_a_long_paragraph_collapse_as_in_a_short_one():
    # collapse_spaces works a block at a time on a long text; blocks end on a space.
    spaces = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
    parts = ["word", "x" * 70_000, spaces, " ", "\n\n", "\u00a0", "é" * 5000, "\u3000 "]
    text = "".join(parts[k % len(parts)] for k in range(400)) * 3
    assert len(text) > 3 * SPACES_BLOCK
    assert collapse_spaces(text) == " ".join(text.split())
    page = extract_html(f"<main><p>{text}</p></main>").text
    assert page == " ".join(text.split()) + "\n"


def test_a_trailing_attribute_list_is_dropped_as_the_pattern_drops_it():
    # without_attr_list searches the pattern only after the last "}" but the list's own:
    # a line full of "{:" costs one pass, not one per "{:" (the speed is not timed here).
    hostile = "{: " * 2000 + "} tail"
    for text in ["Note {: .warning}", "Note {: .warning}  ", "a } b {: x}", "a {: x} b",
                 "{: .info}", "x {: a {: b}", "no list", "", "a}", "} {: c }", "t {x} {: .y}",
                 hostile, hostile + " {: .warning}", "{: " * 2000 + "}"]:
        assert without_attr_list(text) == ATTR_LIST.sub("", text), text[:40]
