"""HTML (or Markdown) -> normalised, readable, stable text.

The normal form is Markdown-like: ``#`` headings, paragraphs on one line, ``-`` list
items, fenced code blocks, ``|`` table rows, ``>`` quotes, blocks separated by one
blank line. It keeps what a reader reads and drops what a build changes: whitespace
between tags, attribute order, link targets, highlighting spans, asset names, chrome.
So identical guide text gives an identical hash, whatever generator produced it.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.types import NoticeDict

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "button", "input",
                       "select", "textarea", "iframe", "object", "head"})
HEADING_LEVELS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}

# ExDoc chrome that can sit inside the content area.
EXDOC_CHROME = (
    ".icon-action", ".hover-link", ".copy-markdown", ".bottom-actions", "footer",
    ".top-search", ".search-settings", ".sidebar", "#sidebar", ".sr-only", ".view-source",
)
# Kramdown-style attribute lists (``{: .warning}``) used by ExDoc admonitions.
ATTR_LIST = re.compile(r"\s*\{:\s*[^}]*\}\s*$")
# Whitespace as str.split() sees it (every Unicode space), and the size of the blocks
# a long text's spaces are collapsed in: split() makes a string of each word at once.
SPACE = re.compile(r"\s")
SPACES_BLOCK = 65536
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# C0 controls but tab and newline, DEL, and C1 controls: in a crawled page they are
# never text, and in a terminal they are commands (ESC ] 52 writes the clipboard).
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def without_controls(text: str) -> str:
    """``text`` without control characters other than newline and tab: what crawled
    text may carry into the store, a report or a terminal."""
    return CONTROLS.sub("", text) if CONTROLS.search(text) else text


@dataclass(frozen=True)
class Extracted:
    """A page's title and normalised text (and, once analysed, its API vocabulary)."""

    title: str
    text: str
    terms: list[str] | None = None
    notices: list[NoticeDict] | None = None

    @property
    def hash(self) -> str:
        return content_hash(self.text)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# A title longer than this is not a title (a page stuffing its <title>): cut, marked "…".
MAX_TITLE = 300


def title_text(text: str) -> str:
    """A title as docwatch stores and shows it: one clean line, at most ``MAX_TITLE``
    characters."""
    title = clean_inline(text)
    return title if len(title) <= MAX_TITLE else title[:MAX_TITLE - 1].rstrip() + "…"


def clean_inline(text: str) -> str:
    """One line of text: Unicode NFC, no invisible or control characters, single spaces."""
    text = without_controls(text)
    if not text.isascii():  # the common case skips both passes
        text = unicodedata.normalize("NFC", text).translate(INVISIBLE)
    # str.split() splits on every Unicode space (NBSP, thin spaces, ...) too.
    return collapse_spaces(text)


def collapse_spaces(text: str) -> str:
    """``" ".join(text.split())``, a block at a time on a long text (a page that is one
    paragraph), so that it never holds a string of each of its words at once."""
    if len(text) <= SPACES_BLOCK:
        return " ".join(text.split())
    parts = []
    start = 0
    while start < len(text):
        # Blocks end on a space: no word is split between two.
        space = SPACE.search(text, start + SPACES_BLOCK)
        end = space.start() if space else len(text)
        if block := " ".join(text[start:end].split()):
            parts.append(block)
        start = end
    return " ".join(parts)


def without_attr_list(text: str) -> str:
    """``text`` without a trailing Kramdown attribute list (``… {: .warning}``).

    The list can only start after the last ``}`` but its own: the pattern is searched
    from there, so a long line full of ``{:`` costs one pass, not one per ``{:``.
    """
    end = len(text.rstrip())
    if not text.endswith("}", 0, end):
        return text
    match = ATTR_LIST.search(text, text.rfind("}", 0, end - 1) + 1)
    return text[:match.start()] if match else text


def extract_html(html: str, select: str | None = None, drop: tuple[str, ...] = ()) -> Extracted:
    """Normalise the part of ``html`` matched by ``select`` (default: ``main``/``body``)."""
    tree = parse_html(html)
    # An explicit selector that matches nothing gives no text (the layout changed),
    # never the whole page.
    root = _pick(tree, select.split(",")) if select else \
        (_pick(tree, ["main", "article", "body"]) or tree.body)
    if root is None:
        return Extracted(_page_title(tree), "")
    for selector in drop:
        for node in root.css(selector):
            node.decompose()
    lines = _Renderer().render(root)
    text = without_controls("\n".join(lines)).strip("\n")
    title = title_text(_first_heading(lines)) or _page_title(tree)
    return Extracted(title, text + "\n" if text else "")


def check_css_selector(selector: str) -> str:
    """``selector`` if lexbor can match with it (every comma-separated part), else a
    ValueError saying what is wrong: checked when sources.yaml is read, not mid-run."""
    probe = LexborHTMLParser("<p></p>")
    for part in selector.split(","):
        if not part.strip():
            raise ValueError(f"empty part in CSS selector {selector!r}")
        try:
            probe.css_first(part.strip())
        except Exception as exc:  # selectolax raises its own SelectolaxError (or ValueError)
            raise ValueError(f"invalid CSS selector {part.strip()!r}: {exc}") from None
    return selector


def parse_html(html: str) -> LexborHTMLParser:
    """lexbor's parse of ``html``. Its own function so that a profile tells the C parser
    (most of an extraction's time) apart from the rendering around it."""
    return LexborHTMLParser(html)


def extract_exdoc(html: str) -> Extracted:
    """The guide text of an ExDoc page, without sidebar, search, footer or source links."""
    return extract_html(html, select="#top-content,#content,main", drop=EXDOC_CHROME)


@functools.cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt  # only runs that meet a .md twin pay for it

    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def extract_markdown(markdown: str) -> Extracted:
    """Normalise Markdown source (ExDoc's ``.md`` twin) to the same form as its HTML page."""
    return extract_html(_markdown().render(markdown), select="body")


def _pick(tree: LexborHTMLParser, selectors: list[str]) -> LexborNode | None:
    for selector in selectors:
        node = tree.css_first(selector.strip())
        if node is not None:
            return node
    return None


def _page_title(tree: LexborHTMLParser) -> str:
    node = tree.css_first("title")
    return title_text(node.text()) if node else ""


def _first_heading(lines: list[str]) -> str:
    in_code = False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("# "):
            return line[2:]
    return ""


class _Renderer:
    """Walks a DOM subtree and emits normalised lines."""

    def render(self, node: LexborNode) -> list[str]:
        blocks = self._blocks(node)
        out: list[str] = []
        for block in blocks:
            if out:
                out.append("")
            out.extend(block)
        return out

    # A block is a list of lines; containers yield their children's blocks in order.
    def _blocks(self, node: LexborNode) -> list[list[str]]:
        blocks: list[list[str]] = []
        inline: list[str] = []

        def flush() -> None:
            text = clean_inline("".join(inline))
            inline.clear()
            if text:
                blocks.append([text])

        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                inline.append(child.text_content or "")
            elif tag in SKIP_TAGS or tag == "-comment":
                continue
            elif tag in BLOCK_TAGS:
                flush()
                blocks.extend(self._block(child))
            else:
                inline.append(self._inline(child))
        flush()
        return blocks

    def _block(self, node: LexborNode) -> list[list[str]]:
        tag = node.tag
        if tag in HEADING_LEVELS:
            text = without_attr_list(self._inline_children(node))
            return [[f"{'#' * HEADING_LEVELS[tag]} {text}"]] if text else []
        if tag == "p" or tag == "dt" or tag == "summary":
            text = without_attr_list(self._inline_children(node))
            return [[text]] if text else []
        if tag == "pre":
            code = (node.text(deep=True) or "").replace("\r\n", "\n").strip("\n")
            lines = [line.rstrip() for line in code.split("\n")]
            return [["```", *lines, "```"]]
        if tag in ("ul", "ol"):
            items = self._list(node, ordered=tag == "ol")
            return [items] if items else []
        if tag == "blockquote" or (tag == "section" and "admonition" in _classes(node)):
            inner = self.render(node)
            return [[f"> {line}".rstrip() for line in inner]] if inner else []
        if tag == "table":
            return [self._table(node)]
        if tag == "hr":
            return [["---"]]
        return self._blocks(node)

    def _list(self, node: LexborNode, ordered: bool) -> list[str]:
        lines: list[str] = []
        number = 0
        for item in node.iter():
            if item.tag != "li":
                continue
            number += 1
            marker = f"{number}. " if ordered else "- "
            inner = self.render(item)
            inner = [line for line in inner if line != ""] or [""]
            lines.append(marker + inner[0])
            lines.extend(("  " + line) if line else "" for line in inner[1:])
        return lines

    def _table(self, node: LexborNode) -> list[str]:
        rows = []
        for row in node.css("tr"):
            cells = [self._inline_children(c) for c in row.iter() if c.tag in ("td", "th")]
            rows.append("| " + " | ".join(cells) + " |")
        return rows

    def _inline(self, node: LexborNode) -> str:
        tag = node.tag
        if tag in SKIP_TAGS or tag == "-comment":
            return ""
        if tag == "br":
            return " "
        if tag == "img":
            return node.attributes.get("alt") or ""
        text = "".join(
            (c.text_content or "") if c.tag == "-text" else self._inline(c)
            for c in node.iter(include_text=True)
        )
        if tag == "code":
            code = clean_inline(text)
            return f"`{code}`" if code else ""
        return text

    def _inline_children(self, node: LexborNode) -> str:
        return clean_inline(self._inline(node))


def _classes(node: LexborNode) -> set[str]:
    return set((node.attributes.get("class") or "").split())


def analysed(extract, source: str, changelog: bool) -> Extracted:
    """``extract(source)`` plus the vocabulary and deprecation notices of its text.

    One call, so a worker process does all the CPU work of a page at once.
    """
    from crawler.notices import notices
    from crawler.vocab import vocabulary

    page = extract(source)
    return Extracted(page.title, page.text, vocabulary(page.text),
                     [n.as_dict() for n in notices(page.text, changelog)])
