"""What a page says became of an API: deprecated, soft-deprecated, removed, renamed or
replaced, in the phrasings changelogs and guides use.

A notice names its term (what a skill line must use to be stale), its kind, the
replacement the docs give, and, where the docs narrow it, its *scope* (the option
``:x`` "of `f/2`": only lines that call ``f`` are affected) and its *shape* (a way of
calling ``f`` that is retired, "Passing a list of strings to `f/2`", not ``f`` itself).

The grammar works sentence by sentence on normalised text (see :mod:`crawler.extract`):

- a *verb* says what happened and where the subject ends: "is deprecated", "has been
  removed", "is no longer supported", "was renamed to", "was replaced by", "will be
  removed", "is no longer needed"; imperatives open a changelog bullet ("Deprecate
  `X`", "Remove `X`", "Rename `X` to `Y`"); "use `Y` instead of `X`" names both;
- the *subject* before a passive verb (after it for an imperative) holds the terms;
  "of / for / to `f`" phrases around them are the scope; a subject opening with a gerund
  ("Passing", "Calling") retires a usage, which becomes a shape;
- under a changelog heading that announces (Deprecations, Soft deprecations, Removals,
  Backwards incompatible changes) a bare bullet naming a term takes the heading's kind;
- "is no longer deprecated" withdraws the older notices of its term on the same page;
- "This function is deprecated" under a function's heading names that function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from crawler.code import split_args
from crawler.diff import section_titles
from crawler.types import NoticeDict, NoticeKind, TermKind
from crawler.vocab import INLINE_CODE, Term, classify

# The version of this grammar. Raise it when a change reads notices differently: the
# stored notices of current pages are then read again (crawler.store.refresh).
GRAMMAR = 4

# -- what a sentence announces -----------------------------------------------------------

_BE = r"(?:is|are|was|were|has been|have been|had been|has now been|have now been|got|" \
      r"will be|is being|are being|being|been|now|to be)"
# (kind, pattern) in the order they are tried: the first that matches a sentence wins.
VERBS: tuple[tuple[NoticeKind, re.Pattern[str]], ...] = (
    (NoticeKind.SOFT_DEPRECATED, re.compile(rf"(?:\b{_BE}\s+(?:now\s+)?)?\bsoft[- ]?deprecated\b|"
                                            rf"\b{_BE}\s+(?:now\s+)?(?:strongly\s+)?discouraged\b",
                                            re.I)),
    (NoticeKind.RENAMED, re.compile(rf"(?:\b{_BE}\s+(?:now\s+)?)?\brenamed\b(?=\s+(?:to|as)\b)",
                                    re.I)),
    # Past or perfect only: "is replaced with the value" describes what happens at run
    # time, "has been replaced by" what happened to the API.
    (NoticeKind.REPLACED, re.compile(
        r"\b(?:has|have|had)(?: now)? been\s+(?:replaced|superseded)\b(?=\s+(?:by|with)\b)|"
        r"\b(?:was|were|got|is now|are now)\s+(?:replaced|superseded)\b(?=\s+(?:by|with)\b)",
        re.I)),
    # "will be removed in v2 / in a future release"; without a time it is what happens
    # at run time ("the key will be removed from the flash").
    (NoticeKind.DEPRECATED, re.compile(r"\bwill be removed\b(?=\s+(?:in|by|with|before|soon|"
                                       r"from (?:the|a) (?:next|future)))|"
                                       r"\bis scheduled for removal\b|"
                                       r"\bno longer (?:needed|necessary|required|recommended)\b",
                                       re.I)),
    (NoticeKind.REMOVED, re.compile(
        r"\b(?:is|are|was|were|has been|have been|had been|has now been|have now been|got|"
        r"now)\s+(?:now\s+)?(?:removed|dropped)\b|"
        r"\b(?:can|may) no longer be (?:passed|given|used|set|called)\b|"
        r"\bno longer (?:supported|available|exists?|works?|allowed|accepted|set|included|"
        r"generated|injected|exported|emitted|used|part of)\b|"
        r"\b(?:will not|won't|does not|doesn't) work any ?more\b",
        re.I)),
    (NoticeKind.DEPRECATED, re.compile(rf"\b{_BE}\s+(?:now\s+)?(?:hard[- ])?deprecated\b",
                                       re.I)),
)
# "`X` deprecated in favor of", "`X` (deprecated)", "- `X` removed": a bare participle
# right after the subject's code, in a bullet or a parenthesis.
PARTICIPLE = re.compile(r"^\s*[-*]\s*(?:\[[^\]]*\]\s*)?(?:the\s+)?`[^`]+`(?:\s+[a-z]+)?[\s(,:–—-]+"
                        r"((?:soft[- ]?)?deprecated|removed|dropped)\b|"
                        r"`[^`]+`\s*\(((?:soft[- ]?)?deprecated|removed)\)", re.I)
# A changelog bullet opening with an imperative (an optional "[scope]" tag first).
IMPERATIVE = re.compile(
    r"^\s*(?:[-*]\s*)?(?P<tag>\[[^\]]*\]\s*)?(?:(?:fully|formally|officially|hard)\s+)?"
    r"(?P<verb>soft[- ]?deprecate[sd]?|deprecate[sd]?|"
    r"remove[sd]?|drop(?:ped|s)?|rename[sd]?|replace[sd]?)\b", re.I)
IMPERATIVE_KIND = {"soft": NoticeKind.SOFT_DEPRECATED, "deprec": NoticeKind.DEPRECATED,
                   "remov": NoticeKind.REMOVED, "drop": NoticeKind.REMOVED,
                   "renam": NoticeKind.RENAMED, "replac": NoticeKind.REPLACED}
RENAME_TO = re.compile(r"^\s+(?:the\s+)?`[^`]+`[^`;.]{0,30}?\s(?:to|as)\s+`")
IMPERATIVE_STOP = re.compile(r"(?i)\s(?:to|with|by|in favou?r of|as)\s+`|[;]|,\s|\.\s|\(")
# "`use Phoenix.Controller` must now specify the `:formats` option".
MUST_NOW = re.compile(r"^\W*(?:the\s+)?`([^`]+)`\s+(?:must|should) now (?:specify|set|pass|"
                      r"include|declare|give|be given)\s+(?:the\s+|an?\s+)?`:?([a-z_][a-z0-9_]*)`",
                      re.I)
USE_INSTEAD = re.compile(r"\b(?:use|prefer|call|write|pass|set|configure)\s+`([^`]+)`[^`.;]{0,40}?"
                         r"\binstead of\s+(?:the\s+)?`([^`]+)`", re.I)
# "`join/5` now expects `on: expr` as last argument instead of simply `expr`": the old
# form of the argument is a retired way of calling the function.
NOW_EXPECTS = re.compile(r"`([^`]+)`\s+now\s+(?:expects|requires|takes|needs|accepts only)\s+"
                         r"`([^`]+)`\s+as\s+(?:the\s+|its\s+)?(first|last)\s+argument\s+"
                         r"instead\s+of\s+(?:simply\s+|just\s+|only\s+|the\s+)?`([^`]+)`", re.I)
# "Add `Y` as the new entrypoint in favor of (relying on) `X`": Y replaces X; "relying on
# the `B` behaviour": what is replaced is Y's module used as a B.
ADD_IN_FAVOR = re.compile(r"^\W*(?:\[[^\]]*\]\s*)?(?:add(?:ed|s)?|introduce[sd]?)\s+`([^`]+)`"
                          r"[^`]*?\bin\s+favou?r\s+of\s+(?:relying\s+on\s+|using\s+|calling\s+)?"
                          r"(?:the\s+)?`([^`]+)`(\s+behaviou?r)?", re.I)
# "The `close/1` callback of `M` is now `close/2`": a new arity (changed) or a new name.
IS_NOW = re.compile(r"^\W*(?:\[[^\]]*\]\s*)?(?:the\s+)?`([^`]+)`(?:\s+(?:callback|function|macro|"
                    r"option|type))?(?:\s+of\s+(?:the\s+)?`([^`]+)`)?\s+is\s+now\s+`([^`]+)`", re.I)
# "Add `validations/1` and `constraints/1` instead of allowing direct access on the struct
# fields": reading those fields is retired.
FIELD_ACCESSORS = re.compile(r"^\W*(?:\[[^\]]*\]\s*)?(?:add(?:ed|s)?|introduce[sd]?)\s+"
                             r"((?:`[a-z_][a-z0-9_]*/1`(?:\s*,\s*|\s+and\s+|\s+or\s+)?)+)\s*"
                             r"instead\s+of\s+(?:allowing\s+)?(?:the\s+)?direct\s+access\s+"
                             r"(?:on|to)\s+(?:the\s+)?(?:struct\s+)?fields?\b", re.I)
# "`M`'s `B` deprecation warning": B, as M is used, is deprecated.
POSSESSIVE_DEPRECATION = re.compile(r"`([^`]+)`'s\s+`([^`]+)`\s+(?:behaviou?r\s+)?deprecation\b",
                                    re.I)
# "This mechanism is discouraged": a sentence about what the one before it describes.
ANAPHORA = re.compile(r"^\W*(?:this|that|these|those|such)\s+(?:mechanism|approach|pattern|style|"
                      r"usage|syntax|form|feature|way|option|setting|configuration)s?\b", re.I)
# "Passing `:adapter` via config is deprecated": the option set in a config file.
IN_CONFIG = re.compile(r"(?i)\b(?:via|in|through|from)\s+(?:the\s+|your\s+)?"
                       r"(?:app(?:lication)?\s+)?config(?:uration)?(?:\s+files?)?\b")
# "passing the `:layouts` to `Phoenix.Controller` and `:layout` to `Phoenix.LiveView`":
# each option with its own scope.
PAIRED_SCOPES = re.compile(r"`([^`]+)`\s+(?:options?\s+)?(?:to|of|for|on|in)\s+(?:the\s+)?`([^`]+)`"
                           r"\s*,?\s+(?:and|or)\s+(?:the\s+)?`([^`]+)`\s+(?:options?\s+)?"
                           r"(?:to|of|for|on|in)\s+(?:the\s+)?`([^`]+)`")
Y_REPLACES_X = re.compile(r"`([^`]+)`\s+(?:now\s+)?(?:replaces|supersedes)\s+(?:the\s+)?`([^`]+)`",
                          re.I)
TIME_MARK = re.compile(r"(?i)\b(?:from (?:this|now|that) (?:version|release|point)?|from now on|"
                       r"as of|since|starting (?:with|from|in)|any ?more|no longer|now|"
                       r"v?\d+\.\d+|new(?:er)? versions?|upgrad\w*|migrat\w*)\b")
WITHDRAWN = re.compile(r"\b(?:no longer|not)\s+(?:soft[- ]?)?deprecated\b|\bun-?deprecat", re.I)
IN_FAVOR = re.compile(r"\bin favou?r of\b", re.I)
REPLACEMENT_LEAD = re.compile(r"\bin favou?r of\b|\b(?:renamed|replaced by|replaced with|"
                              r"superseded by)\b|\b(?:use|using|prefer|call|instead)\b|\bto\b|"
                              r"^\s*(?:by|with)\b", re.I)
# Where a clause about another term starts: its replacement is not this one's.
OTHER_CLAUSE = re.compile(r";|,\s+(?:while|whereas|but|and)\s", re.I)
NOTICE_HEADING = (
    (NoticeKind.SOFT_DEPRECATED, re.compile(r"(?i)\bsoft[- ]?deprecat")),
    (NoticeKind.DEPRECATED, re.compile(r"(?i)\bdeprecat")),
    (NoticeKind.REMOVED, re.compile(r"(?i)\bremov(?:als?|ed)\b")),
    (NoticeKind.CHANGED, re.compile(r"(?i)\b(?:backwards?[- ]incompatible|breaking)\b")),
)
API_WORDS = re.compile(r"(?i)\bAPIs?\b|\bmodule\b|\bfunctions\b")
BUG_FIXES = re.compile(r"(?i)\bbug ?fix|\bfixe[sd]\b|\binternal")
MOVING_HEADING = re.compile(r"(?i)^(?:moving|migrating|switching|upgrading) from (.+?) to (.+)$")
# A subject that starts with a gerund retires a usage ("Passing a list to `cast/3`").
GERUND_SUBJECT = re.compile(r"^(?:[-*>]\s*)?(?:\[[^\]]*\]\s*)?(?:the\s+)?([A-Za-z]+ing)\b")
USAGE_GERUNDS = frozenset({"passing", "calling", "using", "giving", "defining", "specifying",
                           "setting", "returning", "invoking", "providing", "declaring"})
# Words that open a phrase narrowing the term ("the option `:x` of `f`"): its terms are
# the scope, not further subjects.
SCOPE_WORD = re.compile(r"\s(?:of|for|to|in|on|inside|from|when (?:passed|given) to|"
                        r"when calling|with)\s", re.I)
SENTENCE_BREAK = re.compile(r"(?<=[.;!?])\s+(?=[A-Z`\[>])")
# The last run of code spans of a clause: "selectors (`fl-contains`, `fl-icontains`)".
TRAILING_SPANS = re.compile(r"(`[^`]+`(?:\s*(?:,|and|or)\s*`[^`]+`)*)[^`]*$")
COPULA = re.compile(r"\s+(?:is|are|was|were|has been|have been|will|will be)\s*$", re.I)
SUBORDINATE = re.compile(r"(?i)^\W*(?:if|when|once|unless|while|after|before)\b[^,]*,\s+")
# A gerund's object that is one code span and nothing else (a parenthesis aside).
ONLY_SPAN = re.compile(r"^\s*(?:the\s+)?`[^`]+`(?:\s+(?:package|dependency|module|library))?"
                       r"(?:\s*\([^)]*\))?\s*$", re.I)
RELATIVE = re.compile(r",?\s*\(?\s*(?:which|that|who)\s*$", re.I)
# Nouns that say what a bare code word names: "the `show` attribute", "`longPoll` option".
NAME_NOUN = re.compile(r"^\s*(?:option|attribute|attr|setting|configuration|config|flag|switch|"
                       r"binding|hook|callback|package|npm package|dependency|module attribute|"
                       r"component|slot|directive|property|environment variable)s?\b", re.I)
PLAIN_WORD = re.compile(r"^[a-z]+$")
FIELD_ACCESS = re.compile(r"^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+$")
HYPHENATED = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")
CAMEL = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)+$")
IDENT = re.compile(r"^[a-z_][a-z0-9_]*[?!]?$")
NPM_PACKAGE = re.compile(r"^(?:@[a-z0-9-]+/)?[a-z][a-z0-9._-]*[a-z0-9]$")
COMMAND = re.compile(r"^(?:npm|npx|yarn|pnpm|bun|node|elixir|iex)\s+\S")
FLAG = re.compile(r"^(--?[a-z][a-z0-9-]*)(?:[ =].*)?$")
TAGGED_TUPLE = re.compile(r"^\{\s*:([a-z_][a-z0-9_]*[?!]?)\s*,.*\}$")
MODULE_ATTRIBUTE = re.compile(r"^@([a-z_][a-z0-9_]*)$")
CONFIG_KEY = re.compile(r"^config\s+:([a-z_][a-z0-9_]*)\s*,\s*(?:[A-Z][\w.]*\s*,\s*)?"
                        r":?([a-z_][a-z0-9_]*)\b")
KEYWORD_PAIR = re.compile(r"^([a-z_][a-z0-9_]*[?!]?):\s+(.+)$")
USE_MODULE = re.compile(r"^use\s+([A-Z][\w.]*)")
KEYWORD_IN_USE = re.compile(r"^(?:use|plug)\s+[A-Z][\w.]*\s*,\s*([a-z_][a-z0-9_]*[?!]?):")
WITHOUT_OPTION = re.compile(r"(?i)\bwithout\s+(?:the\s+|an?\s+|any\s+)?`:?([a-z_][a-z0-9_]*)`")
EXAMPLE_CALL = re.compile(r"^(?:[A-Z][\w.]*\.)?([a-z_][a-z0-9_]*[?!]?)\((.*)\)$")
SIGNATURE_HEADING = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*[?!]?)\((?P<args>.*)\)\s*$")
THIS_THING = re.compile(r"^\s*(?:>\s*)?this (?:function|macro|callback|module|type)\b", re.I)
VERSION = re.compile(r"\bv?(\d+)\.(\d+)(?:\.\d+)?(?:-[\w.]+)?\b")
SIGIL = re.compile(r"^~[A-Za-z]+$")
EXTENSION = re.compile(r"^(?:\.[a-z][a-z0-9]*)+$")  # `.leex`, `.html.leex`
# A type as a typespec declares it (`@opaque dynamic`), or as ExDoc links it
# (`t:Ecto.Query.dynamic/0`).
TYPE_DECLARED = re.compile(r"^@(?:type|typep|opaque)\s+([a-z_][a-z0-9_]*)\b")
TYPE_LINKED = re.compile(r"^t:((?:[A-Z][A-Za-z0-9]*\.)*[A-Z][A-Za-z0-9]*)\.([a-z_][a-z0-9_]*)/\d$")
# A changelog bullet's "[Module]" tag.
TAG = re.compile(r"^\s*(?:[-*]\s*)?\[([^\]]*)\]")
# Nouns after a bare word that make it a term of their own kind: "the `config` variable",
# "the `simple_form` component".
KIND_NOUN = re.compile(r"^\s*(?:(variable)|(?:function\s+)?(component))s?\b", re.I)
ATTRIBUTE_NOUN = re.compile(r"^\s*(?:attribute|attr)s?\b", re.I)

# At most this many words may stand between a passive verb and its subject's last code.
MAX_TAIL_WORDS = 6
# The most of a sentence a notice cites: a longer "sentence" is a page without full
# stops, quoted around the term (the report and the snapshot's JSON stay small).
MAX_SENTENCE = 600
# At most this many words may follow the term of a bare bullet under a heading.
BARE_BULLET_WORDS = 4
# Words a line must hold to announce anything (lower-cased): a cheap pre-filter.
NOTICE_WORDS = ("deprecat", "remov", "no longer", "renam", "replac", "instead of", "in favo",
                "is now `",
                "supersede", "drop", "work any", "workany", "moving from", "migrating from",
                "switching from", "upgrading from", "discourag", "must now", "should now")


class ArgKind:
    """Kinds of argument a usage shape can require (the words the docs use for them)."""

    LIST_OF_STRINGS = "list of strings"
    KEYWORD_LIST = "keyword list"
    STRING = "string"
    FUNCTION = "function"
    MAP = "map"
    ATOM = "atom"
    TUPLE = "tuple"
    MFA = "mfa"  # {Module, :function, args}
    LOCAL_FUNCTION = "local function"  # &name/2 or fn … end, not &Module.name/2


# The words of a usage sentence and the argument kind they name, tried in order.
ARG_WORDS = (
    (re.compile(r"(?i)\blocal (?:function )?captures?\b"), ArgKind.LOCAL_FUNCTION),
    (re.compile(r"(?i)\bMFAs?\b|\bmodule[- ]function[- ]arg"), ArgKind.MFA),
    (re.compile(r"(?i)\blists? of (?:strings|binaries)\b|\bstring lists?\b"),
     ArgKind.LIST_OF_STRINGS),
    (re.compile(r"(?i)\bkeyword(?:s| lists?)?\b"), ArgKind.KEYWORD_LIST),
    (re.compile(r"(?i)\b(?:anonymous )?functions?\b|\bfn\b|\bclosures?\b"), ArgKind.FUNCTION),
    (re.compile(r"(?i)\bstrings?\b|\bbinar(?:y|ies)\b|\bcss selectors?\b|\bselectors?\b"),
     ArgKind.STRING),
    (re.compile(r"(?i)\bmaps?\b"), ArgKind.MAP),
    (re.compile(r"(?i)\btuples?\b"), ArgKind.TUPLE),
    (re.compile(r"(?i)\batoms?\b"), ArgKind.ATOM),
)


@dataclass(frozen=True)
class Shape:
    """A way of calling a function that the docs retire.

    ``arg``: some argument is of that kind (a string: the first literal argument).
    ``option``: the call passes that keyword option; with ``arg`` it is the option's
    value that must be of the kind. ``example``: the docs' own example call, its
    arguments as written (``_`` and variables match anything, a literal argument any
    literal of its kind, literals inside a tuple or list themselves). ``value``: the
    retired value of ``option``, matched the same way.
    """

    arg: str | None = None
    option: str | None = None
    example: tuple[str, ...] | None = None
    value: str | None = None  # the option's value as the docs write it: `opt: {:x, _}`
    absent: bool = False  # retired: calling without ``option`` ("must now specify :formats")
    config: bool = False  # retired: ``option`` set in config ("passing `:adapter` via config")

    def as_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "arg": self.arg, "option": self.option,
            "example": list(self.example) if self.example is not None else None,
            "value": self.value, "absent": self.absent}
        if self.config:
            d["config"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Shape:
        example = d.get("example")
        return cls(d.get("arg"), d.get("option"),
                   tuple(example) if example is not None else None, d.get("value"),
                   bool(d.get("absent")), bool(d.get("config")))


@dataclass(frozen=True)
class Notice:
    """A deprecation, removal, rename or replacement announced by a page, citable."""

    term: Term
    kind: NoticeKind
    section: str
    sentence: str
    replacement: str | None = None
    # Where the term applies: the functions, components or modules it belongs to.
    scope: tuple[Term, ...] = ()
    shape: Shape | None = None
    # The changelog version whose section announces it (None: a guide, or no version).
    version: str | None = None

    def as_dict(self) -> NoticeDict:
        """The notice as a snapshot stores it (JSON)."""
        d: NoticeDict = {"term": self.term.text, "term_kind": self.term.kind, "kind": self.kind,
                         "section": self.section, "sentence": self.sentence,
                         "replacement": self.replacement}
        if self.scope:
            d["scope"] = [[t.kind, t.text] for t in self.scope]
        if self.shape:
            d["shape"] = self.shape.as_dict()
        if self.version:
            d["version"] = self.version
        return d

    @classmethod
    def from_dict(cls, d: NoticeDict) -> Notice:
        """The notice a snapshot stored with :meth:`as_dict` (older ones lack the
        scope, shape and version)."""
        shape = d.get("shape")
        return cls(Term(d["term"], TermKind(d["term_kind"])), NoticeKind(d["kind"]),
                   d["section"], d["sentence"], d.get("replacement"),
                   tuple(Term(text, TermKind(kind)) for kind, text in d.get("scope") or ()),
                   Shape.from_dict(shape) if shape else None, d.get("version"))


# -- subjects: which code names which term -----------------------------------------------


def subject_term(code: str, after: str = "", strong: bool = False) -> Term | None:
    """The term a code span of a notice names; ``after`` is the text that follows it
    (a noun such as "option" tells what a bare word is). ``strong``: the span is the
    object of "Rename", "Remove", "renamed to" (an API name, whatever its spelling)."""
    code = code.strip()
    term = classify(code) or (Term(code, TermKind.MODULE)
                              if re.match(r"^[A-Z][A-Za-z0-9]*$", code) else None)
    if term is not None:
        if term.kind == TermKind.MODULE and not _is_api_module(term.text):
            return None
        if term.kind == TermKind.FUNCTION and re.match(r"^[a-z_]\w*/1$", term.text) and (
                (kind_noun := KIND_NOUN.match(after)) and kind_noun.group(2)):
            return Term(f"<.{term.text[:-2]}>", TermKind.COMPONENT)  # `simple_form/1` component
        return term
    if SIGIL.match(code):
        return Term(code, TermKind.SIGIL)
    if EXTENSION.match(code):
        return Term(code, TermKind.EXTENSION)
    if match := TYPE_LINKED.match(code):
        return Term(f"{match.group(1)}.{match.group(2)}", TermKind.TYPE)
    if IDENT.match(code) and (kind_noun := KIND_NOUN.match(after)):
        if kind_noun.group(1):
            return Term(code, TermKind.VARIABLE)
        return Term(f"<.{code}>", TermKind.COMPONENT)
    if match := CONFIG_KEY.match(code):
        return Term(f":{match.group(2)}", TermKind.OPTION)
    if match := MODULE_ATTRIBUTE.match(code):
        return Term(f"@{match.group(1)}", TermKind.MODULE_ATTRIBUTE)
    if match := FLAG.match(code):
        return Term(match.group(1), TermKind.FLAG)
    if COMMAND.match(code):
        return Term(" ".join(code.split()), TermKind.COMMAND)
    if match := KEYWORD_PAIR.match(code):
        return Term(f":{match.group(1)}", TermKind.OPTION)
    if match := TAGGED_TUPLE.match(code):
        return Term(f"{{:{match.group(1)}, …}}", TermKind.TUPLE)  # `{:one_of, choices}`
    if match := USE_MODULE.match(code):
        return Term(match.group(1), TermKind.MODULE)
    if FIELD_ACCESS.match(code):
        return None  # `socket.assigns`: a value's field, not an API name
    if CAMEL.match(code) or HYPHENATED.match(code) or ("/" in code and NPM_PACKAGE.match(code)):
        return Term(code, TermKind.NAME)  # spelled like an API: `longPollFallback`
    noun = NAME_NOUN.match(after) is not None
    if (noun or strong) and (IDENT.match(code) or NPM_PACKAGE.match(code)) and (
            noun or not PLAIN_WORD.match(code)):
        return Term(code, TermKind.NAME)  # "the `show` attribute", "Rename `debug_tags`"
    return None


def _is_api_module(text: str) -> bool:
    # A lower-case word in code (`config`) is too common to judge a skill line by; a
    # capitalised one in code is a module (`Floki`, `LiveSocket`).
    return text[:1].isupper()


def _spans(text: str, strong: bool = False) -> list[tuple[re.Match[str], Term | None]]:
    return [(m, subject_term(m.group(1), text[m.end():m.end() + 40], strong))
            for m in INLINE_CODE.finditer(text)]


def _scope_terms(text: str) -> tuple[Term, ...]:
    """The functions, components and modules a scope phrase names."""
    out = []
    for match, term in _spans(text):
        if term and term.kind == TermKind.MODULE and match.group(1).startswith("use "):
            out.append(Term(f"use {term.text}", TermKind.MODULE))  # that call, strictly
        elif term and term.kind in (TermKind.FUNCTION, TermKind.COMPONENT, TermKind.MODULE,
                                    TermKind.OPTION):
            out.append(term)  # an option: the term is one of its values
        elif term is None and (call := re.match(r"([a-z_][a-z0-9_]*[?!]?)(?:\(|$)",
                                                match.group(1))):
            # "for `update_all` and `delete_all`": a bare name in a scope is a function.
            out.append(Term(call.group(1), TermKind.FUNCTION))
    return tuple(out)


# -- the walk ----------------------------------------------------------------------------


@dataclass
class _Context:
    changelog: bool
    module: str | None  # the page's module (a module page), for "This function"
    heading_kind: NoticeKind | None = None
    bug_fixes: bool = False  # under "Bug fixes": an imperative there fixes, it retires nothing
    heading_term: Term | None = None  # the function a signature heading documents
    version: str | None = None
    found: list[Notice] = field(default_factory=list)
    withdrawn: dict[str, int] = field(default_factory=dict)  # term text -> index in found
    text: str = ""  # the whole page
    _options: frozenset[str] | None = None

    def page_options(self) -> frozenset[str]:
        """The options the page spells in code (`:hints`, `hints:`), read once."""
        if self._options is None:
            self._options = frozenset(a or b for a, b in re.findall(
                r"`:([a-z_][a-z0-9_]*)`|`([a-z_][a-z0-9_]*):", self.text))
        return self._options


def notices(text: str, changelog: bool = False) -> list[Notice]:
    """Deprecations, removals, renames and replacements announced in ``text``."""
    if not _has_notice_word(text):
        return []  # most pages: nothing to walk
    lines = text.splitlines()
    sections = section_titles(lines)
    title = next((line[2:] for line in lines if line.startswith("# ")), "")
    first = classify(title.split(" ", 1)[0])
    context = _Context(changelog, first.text if first and first.kind == TermKind.MODULE
                       else None, text=text)
    in_code = False
    for line, section in zip(lines, sections, strict=True):
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code or not line.strip():
            continue
        if line.startswith("#"):
            _heading(line.lstrip("#").strip(), section, context)
            continue
        if "`" not in line and "[" not in line and not THIS_THING.match(line):
            continue  # no code, no [Module] tag: nothing a notice could name
        if not _has_notice_word(line) and not (
                context.heading_kind and context.heading_kind != NoticeKind.CHANGED):
            continue
        previous = ""
        for sentence in _sentences(line):
            if "`" in previous and "`" not in sentence and ANAPHORA.match(sentence):
                # "You passed `:x` to `M` to do y. This mechanism is discouraged.": what
                # the sentence before describes (up to its last code) is the subject.
                _sentence(f"{previous[:previous.rindex('`') + 1]} {sentence}", section,
                          context)
            else:
                _sentence(sentence, section, context)
            previous = sentence
    return _dedupe(_standing(context))


def _has_notice_word(text: str) -> bool:
    # Substring tests on the lowered text: far faster than one case-blind regex.
    lowered = text.lower()
    return any(word in lowered for word in NOTICE_WORDS)


def _standing(context: _Context) -> list[Notice]:
    """The notices no withdrawal takes back. In a changelog, newest first, "`X` is no
    longer deprecated" takes back the notices of X below it; in a guide, all of them."""
    return [n for i, n in enumerate(context.found)
            if (at := context.withdrawn.get(n.term.text)) is None
            or (context.changelog and i < at)]


def _sentences(line: str) -> list[str]:
    """The sentences of a line; a sentence that only says "Use `Y` instead." stays with
    the one before it (it gives that one's replacement)."""
    parts = SENTENCE_BREAK.split(line)
    out: list[str] = []
    for part in parts:
        if out and re.match(r"(?i)^(?:>\s*)?(?:use|prefer|call)\s+`", part):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


def _heading(heading: str, section: str, context: _Context) -> None:
    context.heading_kind = next((kind for kind, pattern in NOTICE_HEADING
                                 if pattern.search(heading)), None)
    context.bug_fixes = BUG_FIXES.search(heading) is not None
    version = VERSION.search(heading)
    if version and context.changelog and re.match(r"(?i)^\[?v?\d", heading):
        context.version = f"{version.group(1)}.{version.group(2)}"
    signature = SIGNATURE_HEADING.match(heading)
    context.heading_term = None
    if signature and context.module:
        args = [a for a in split_args(signature["args"]) if a]
        context.heading_term = Term(f"{context.module}.{signature['name']}/{len(args)}",
                                    TermKind.FUNCTION)
    if moving := MOVING_HEADING.match(heading.replace("`", "")):
        old = subject_term(moving.group(1).strip())
        # In a guide only code names an API ("Moving from `Phoenix.View`"), not a word.
        if old is not None and (context.changelog or f"`{moving.group(1).strip()}`" in heading):
            _add(context, Notice(old, NoticeKind.REPLACED, section, heading,
                                 moving.group(2).strip(), version=context.version))


def _sentence(sentence: str, section: str, context: _Context) -> None:
    if "`" not in sentence and not (THIS_THING.match(sentence) or "[" in sentence):
        return  # every notice names its term in code, but "This function" and "[Module]"
    if WITHDRAWN.search(sentence):
        for _, term in _spans(sentence[:WITHDRAWN.search(sentence).start()]):  # type: ignore[union-attr]
            if term:
                context.withdrawn.setdefault(term.text, len(context.found))
        return
    if THIS_THING.match(sentence) and context.heading_term:
        kind = _verb_kind(sentence)
        if kind:
            _add(context, Notice(context.heading_term, kind, section, sentence.strip(),
                                 _replacement(sentence), version=context.version))
        return
    if must := MUST_NOW.match(sentence):
        term = subject_term(must.group(1))
        if term is not None and term.kind in (TermKind.MODULE, TermKind.FUNCTION):
            _add(context, Notice(term, context.heading_kind if context.heading_kind in
                                 (NoticeKind.DEPRECATED, NoticeKind.SOFT_DEPRECATED)
                                 else NoticeKind.DEPRECATED, section, sentence.strip(),
                                 shape=Shape(option=must.group(2), absent=True),
                                 version=context.version))
        return
    if (context.changelog or context.heading_kind) and (match := IS_NOW.match(sentence)):
        _is_now(match, sentence, section, context)
        return
    if match := FIELD_ACCESSORS.match(sentence):
        module = _tag_module(sentence, "")
        for name in re.findall(r"`([a-z_][a-z0-9_]*)/1`", match.group(1)):
            _add(context, Notice(Term(name, TermKind.FIELD), NoticeKind.DEPRECATED, section,
                                 sentence.strip(), f"{module}.{name}/1" if module else f"{name}/1",
                                 (Term(module, TermKind.MODULE),) if module else (),
                                 version=context.version))
        return
    if match := NOW_EXPECTS.search(sentence):
        _now_expects(match, sentence, section, context)
        return
    if match := POSSESSIVE_DEPRECATION.search(sentence):
        implementation, used = subject_term(match.group(1)), subject_term(match.group(2))
        if implementation is not None and used is not None:
            _as_used_by(used, implementation, NoticeKind.DEPRECATED, section, sentence, None,
                        context)
            return
    if context.changelog and not context.bug_fixes and (match := ADD_IN_FAVOR.match(sentence)):
        new, old = subject_term(match.group(1)), subject_term(
            match.group(2), sentence[match.end():match.end() + 40], strong=True)
        if old is not None:
            module = new.text.partition("/")[0].rpartition(".")[0] if new and \
                new.kind == TermKind.FUNCTION else new.text if new else ""
            if match.group(3) and old.kind == TermKind.MODULE and module:
                _as_used_by(old, Term(module, TermKind.MODULE), NoticeKind.REPLACED, section,
                            sentence, match.group(1), context)
            else:
                _add(context, Notice(old, NoticeKind.REPLACED, section, sentence.strip(),
                                     match.group(1), version=context.version))
            return
    if (match := USE_INSTEAD.search(sentence)) and not context.bug_fixes and (
            context.changelog or context.heading_kind or TIME_MARK.search(sentence)):
        # In a guide "use X instead of Y" is often plain advice (`insert!/2` instead of
        # `insert/2` to raise): it announces only with a word of time or version.
        old = subject_term(match.group(2), sentence[match.end():match.end() + 40])
        if old is not None:
            _add(context, Notice(old, NoticeKind.REPLACED, section, sentence.strip(),
                                 match.group(1), version=context.version))
        return
    if match := Y_REPLACES_X.search(sentence):
        old = subject_term(match.group(2), sentence[match.end():match.end() + 40])
        if old is not None:
            _add(context, Notice(old, NoticeKind.REPLACED, section, sentence.strip(),
                                 match.group(1), version=context.version))
        return
    if (context.changelog or context.heading_kind) and (m := IMPERATIVE.match(sentence)) and (
            not context.bug_fixes or RENAME_TO.search(sentence[m.end():])):
        # Under "Bug fixes" an imperative fixes ("Remove compile dependency on …"), but
        # "Rename `X` to `Y`" renames wherever it is listed.
        verb = m["verb"].lower()
        kind = next(k for stem, k in IMPERATIVE_KIND.items() if verb.startswith(stem))
        if context.bug_fixes and kind != NoticeKind.RENAMED:
            return
        if kind == NoticeKind.REPLACED and not re.search(r"(?i)\b(?:with|by)\s+`", sentence):
            return  # "Replace internal queue" is no notice; "Replace `X` with `Y`" is
        _passive_or_object(sentence, m.end(), None, kind, section, context, imperative=True,
                           tag=(m["tag"] or "").strip(" []"))
        return
    if verb := _first_verb(sentence):
        kind, match = verb
        _passive_or_object(sentence, match.start(), match.end(), kind, section, context)
        return
    heading = context.heading_kind
    if not context.bug_fixes and (match := PARTICIPLE.search(sentence)):
        word = (match.group(1) or match.group(2)).lower()
        kind = NoticeKind.SOFT_DEPRECATED if word.startswith("soft") else \
            NoticeKind.DEPRECATED if word.startswith("deprec") else NoticeKind.REMOVED
        group = 1 if match.group(1) else 2
        _passive_or_object(sentence, match.start(group), match.end(group), kind, section,
                           context)
        return
    if heading and heading != NoticeKind.CHANGED and re.match(r"^\s*[-*]\s", sentence):
        # A bare bullet under "Deprecations": "- `X` (use `Y`)", "- `phx-foo` binding".
        body = re.sub(r"^\s*[-*]\s*(?:\[[^\]]*\]\s*)?(?:the\s+)?", "", sentence, flags=re.I)
        spans = _spans(body)
        rest = re.sub(r"\([^)]*\)", "", body[spans[0][0].end():]) if spans else ""
        if spans and spans[0][0].start() == 0 and spans[0][1] is not None and (
                len(rest.split()) <= BARE_BULLET_WORDS or IN_FAVOR.match(rest.strip())):
            # Only a bullet that is the term ("- `X` binding", "- `X` (use `Y`)"): a
            # longer one says something else of it ("`use X` must now set :formats").
            term = spans[0][1]
            if term.kind == TermKind.NAME and PLAIN_WORD.match(term.text):
                return  # "- `glow` option for …": a plain word needs a scope
            _add(context, Notice(term, heading, section, sentence.strip(),
                                 _replacement(body[spans[0][0].end():]),
                                 version=context.version))


def _first_verb(sentence: str) -> tuple[NoticeKind, re.Match[str]] | None:
    """The verb that comes first in the sentence (``VERBS`` order breaks a tie): "`X` is
    deprecated, helpers are replaced by …" deprecates X."""
    found = [(m.start(), i, kind, m) for i, (kind, pattern) in enumerate(VERBS)
             if (m := pattern.search(sentence))]
    if not found:
        return None
    _, _, kind, match = min(found, key=lambda f: (f[0], f[1]))
    return kind, match


def _verb_kind(sentence: str) -> NoticeKind | None:
    verb = _first_verb(sentence)
    return verb[0] if verb else None


def _is_now(match: re.Match[str], sentence: str, section: str, context: _Context) -> None:
    """"The `close/1` callback of `M` is now `close/2`": the old arity changed (the
    function is ``M``'s); "`:a` is now `:b`": renamed. Both must be terms of one kind."""
    old, new = subject_term(match.group(1)), subject_term(match.group(3))
    if old is None or new is None or old.kind != new.kind or old.kind not in (
            TermKind.FUNCTION, TermKind.OPTION, TermKind.MODULE) or old == new:
        return
    owner = subject_term(match.group(2)) if match.group(2) else None
    if old.kind == TermKind.FUNCTION and owner is not None and owner.kind == TermKind.MODULE \
            and "." not in old.text.partition("/")[0]:
        old = Term(f"{owner.text}.{old.text}", TermKind.FUNCTION)  # the callback of M
    same_name = old.text.partition("/")[0].rsplit(".", 1)[-1] == \
        new.text.partition("/")[0].rsplit(".", 1)[-1]
    _add(context, Notice(old, NoticeKind.CHANGED if same_name else NoticeKind.RENAMED, section,
                         sentence.strip(), match.group(3), version=context.version))


def _now_expects(match: re.Match[str], sentence: str, section: str, context: _Context) -> None:
    """"`f/5` now expects `on: expr` as last argument instead of `expr`": f called with
    the old form in that place (its other arguments anything) is deprecated."""
    function = subject_term(match.group(1))
    if function is None or function.kind != TermKind.FUNCTION or "/" not in function.text:
        return
    arity = int(function.text.rpartition("/")[2])
    if arity < 1:
        return
    rest = ("_",) * (arity - 1)
    example = (*rest, match.group(4)) if match.group(3).lower() == "last" \
        else (match.group(4), *rest)
    _add(context, Notice(function, NoticeKind.DEPRECATED, section, sentence.strip(),
                         match.group(2), shape=Shape(example=example), version=context.version))


def _as_used_by(used: Term, implementation: Term, kind: NoticeKind, section: str,
                sentence: str, replacement: str | None, context: _Context) -> None:
    """``used`` as ``implementation`` uses it is retired, not ``used`` itself: a line that
    names both. A behaviour (`EEx.Engine` of `Phoenix.LiveView.TagEngine`) is also used
    by passing the implementation as the option named after it (`engine: TagEngine`)."""
    _add(context, Notice(used, kind, section, sentence.strip(), replacement, (implementation,),
                         version=context.version))
    if used.kind == TermKind.MODULE and implementation.kind == TermKind.MODULE:
        option = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", used.text.rsplit(".", 1)[-1]).lower()
        _add(context, Notice(Term(f":{option}", TermKind.OPTION), kind, section,
                             sentence.strip(), replacement,
                             shape=Shape(option=option, value=implementation.text),
                             version=context.version))


def _tag_module(sentence: str, tag: str) -> str | None:
    """The module of a changelog bullet's "[Module]" tag."""
    if not tag and (match := TAG.match(sentence)):
        tag = match.group(1)
    term = subject_term(tag) if tag else None
    return term.text if term is not None and term.kind == TermKind.MODULE else None


def _paired(subject: str) -> list[tuple[Term, tuple[Term, ...]]]:
    """"`:a` to `X` and `:b` to `Y`": each option with its own scope (none: no pairs)."""
    match = PAIRED_SCOPES.search(subject)
    if not match:
        return []
    out = []
    for code, scope in ((match.group(1), match.group(2)), (match.group(3), match.group(4))):
        term, own = subject_term(code), _scope_terms(f"`{scope}`")
        if term is None or term.kind not in (TermKind.OPTION, TermKind.NAME) or not own:
            return []
        out.append((term, own))
    return out


def _passive_or_object(sentence: str, start: int, end: int | None, kind: NoticeKind,
                       section: str, context: _Context, imperative: bool = False,
                       tag: str = "") -> None:
    """The notices of a sentence whose verb spans ``start``-``end`` (``end`` None: an
    imperative, whose object follows the verb)."""
    if imperative:
        rest = sentence[start:]
        stop = IMPERATIVE_STOP.search(_masked(rest))
        subject, after = (rest[:stop.start()], rest[stop.start():]) if stop else (rest, "")
    else:
        subject, after = sentence[:start], sentence[end:]
        subject = COPULA.sub("", subject)  # "`X` is | no longer needed"
        if rel := RELATIVE.search(subject):
            # "Unlike `X`, which was removed, ...": the subject is what "which" stands for,
            # the clause before it.
            last = TRAILING_SPANS.search(subject[:rel.start()])
            subject = last.group(1) if last else ""
        elif clause := SUBORDINATE.match(subject):
            subject = subject[clause.end():]  # "If `x` is given, the key will be removed"
    gerund = GERUND_SUBJECT.match(subject.strip())
    if gerund and gerund.group(1).lower() in USAGE_GERUNDS:
        only = ONLY_SPAN.match(subject.strip()[gerund.end():])
        if not only:
            _usage(subject, after, kind, sentence, section, context)
            return
        subject = only.group(0)  # "Using `X` is no longer necessary": X itself
    elif gerund and gerund.group(1)[0].isupper():
        return  # "Fixing …", "Warning …": a sentence about something else
    if not imperative and _far(subject):
        return  # "…if you use `Ecto.assoc/2` to load them (which is discouraged": not it
    head, scope_text = _split_scope(subject)
    scope = _scope_terms(scope_text) + _after_scope(after)
    strong = imperative or kind in (NoticeKind.RENAMED, NoticeKind.REPLACED)
    replacement = _replacement(after) if not imperative else _replacement(after or sentence)
    with_shape = re.match(r"(?i)^\W*(?:the\s+)?`[^`]+`\s+with\s", subject.strip())
    spans = _spans(head, strong)
    if "@" in head and (tagged := _tag_module(sentence, tag)):
        # "[Ecto.Query] Rename `@opaque dynamic` type": the module's type.
        spans = [(m, t if t is not None or not (d := TYPE_DECLARED.match(m.group(1)))
                  else Term(f"{tagged}.{d.group(1)}", TermKind.TYPE)) for m, t in spans]
    terms = [t for _, t in spans if t is not None]
    if pairs := _paired(subject):
        for paired, own in pairs:
            _add(context, Notice(paired, kind, section, sentence.strip(), replacement, own,
                                 version=context.version))
        return
    value = _option_value(head)
    if value is not None:
        option, atom = value
        _add(context, Notice(atom, kind, section, sentence.strip(), replacement,
                             (option,), version=context.version))
        return
    if with_shape and terms and terms[0].kind == TermKind.FUNCTION:
        # "`f/2` with a CSS selector as `:target` is deprecated": a usage of f.
        _usage(subject, after, kind, sentence, section, context)
        return
    if not terms:
        _shape_of_option(head, scope_text, after, kind, sentence, section, context)
        if imperative and API_WORDS.search(head) and (module := subject_term(tag)) and \
                module.kind == TermKind.MODULE:
            # "- [Ecto.LogEntry] Fully deprecate previously soft deprecated API".
            _add(context, Notice(module, kind, section, sentence.strip(),
                                 version=context.version))
        return
    for match, term in spans:
        if term is None:
            continue
        shape = None
        if term.kind == TermKind.OPTION and (pair := KEYWORD_PAIR.match(match.group(1))):
            shape = Shape(option=pair.group(1), value=pair.group(2).strip())  # `opt: {:x, _}`
        elif term.kind == TermKind.ATTRIBUTE and "=" in match.group(1):
            # `phx-update="append"`: that value of the attribute, not the attribute.
            shape = Shape(value=match.group(1).split("=", 1)[1].strip())
        own_scope = scope if term.kind in (TermKind.OPTION, TermKind.NAME, TermKind.FLAG,
                                           TermKind.VARIABLE) else ()
        if term.kind in (TermKind.NAME, TermKind.VARIABLE) and not own_scope and \
                PLAIN_WORD.match(term.text):
            if term.kind == TermKind.VARIABLE or not ATTRIBUTE_NOUN.match(head[match.end():]):
                continue  # "the `config` key": a plain word needs a scope to judge a line by
            # "the `let` attribute": an attribute of HEEx tags, judged where one is written.
            term = Term(term.text, TermKind.ATTRIBUTE)
        _add(context, Notice(term, kind, section, sentence.strip(), replacement, own_scope,
                             shape, version=context.version))


def _shape_of_option(head: str, scope_text: str, after: str, kind: NoticeKind,
                     sentence: str, section: str, context: _Context) -> None:
    """A kind of value retired for an option: "Deprecate MFAs on `:with`", "a tuple can
    no longer be passed to `:where`"."""
    found = next(((k, m) for pattern, k in ARG_WORDS if (m := pattern.search(head))), None)
    lead = re.compile(r"(?i)^\s*(?:on|for|to|in|as|with)\s+(?:the\s+)?`([^`]+)`")
    target = lead.match(scope_text) or lead.match(after)
    if found is None:
        return
    arg, word = found
    if target is None:
        # "Keyword hints are no longer supported": the word after the kind of value is an
        # option when the page spells it as one in code (`:hints`).
        named = re.match(r"\s+([a-z_][a-z0-9_]*)\b", head[word.end():])
        if named and named.group(1) in context.page_options():
            _add(context, Notice(Term(f":{named.group(1)}", TermKind.OPTION), kind, section,
                                 sentence.strip(), shape=Shape(arg=arg, option=named.group(1)),
                                 version=context.version))
        return
    option = subject_term(target.group(1))
    if option is not None and option.kind == TermKind.OPTION:
        _add(context, Notice(option, kind, section, sentence.strip(),
                             shape=Shape(arg=arg, option=option.text[1:]),
                             version=context.version))


def _masked(text: str) -> str:
    """``text`` with the inside of its code spans blanked: punctuation in code is not the
    sentence's."""
    return INLINE_CODE.sub(lambda m: "`" + " " * len(m.group(1)) + "`", text)


def _far(subject: str) -> bool:
    """Whether the subject's last code span is too far from the verb to be what it says
    something of: a passive verb's subject ends right before it ("`X` option", "`X` and
    `Y` were previously deprecated and")."""
    if "`" not in subject:
        return False  # no code: nothing it could wrongly name (a kind of value may follow)
    tail = subject.rsplit("`", 1)[-1]
    return len(re.findall(r"[A-Za-z]+", tail)) > MAX_TAIL_WORDS


def _split_scope(subject: str) -> tuple[str, str]:
    """The subject's head (its terms) and the phrase that narrows them ("of `f/2`")."""
    match = SCOPE_WORD.search(subject)
    if not match:
        return subject, ""
    return subject[:match.start()], subject[match.start():]


def _after_scope(after: str) -> tuple[Term, ...]:
    """Scope given after the verb: "is deprecated for `update_all/3` and `delete_all/2`"."""
    match = re.match(r"(?i)^\s*(?:for|in(?! favou?r)|on|when (?:passed|given) to|"
                     r"when calling)\s+(.+?)(?:[;.]\s|[;.]?$|,\s(?!and\b|or\b|`))", after)
    return _scope_terms(match.group(1)) if match else ()


def _option_value(head: str) -> tuple[Term, Term] | None:
    """"The `:on_conflict` value `:replace_all`": the option and the retired value."""
    match = re.search(r"`:?([a-z_][a-z0-9_]*)`\s+(?:option\s+)?value\s+`(:[a-z_][a-z0-9_]*)`",
                      head)
    if not match:
        return None
    return Term(f":{match.group(1)}", TermKind.OPTION), Term(match.group(2), TermKind.OPTION)


def _usage(subject: str, after: str, kind: NoticeKind, sentence: str, section: str,
           context: _Context) -> None:
    """A usage notice: the function the subject names, called the way it describes."""
    spans = _spans(subject)
    functions = [t for _, t in spans if t is not None and t.kind == TermKind.FUNCTION]
    options = [t for _, t in spans if t is not None and t.kind == TermKind.OPTION]
    if not functions and options and IN_CONFIG.search(INLINE_CODE.sub(" ", subject)):
        # "Passing `:adapter` via config is deprecated": the option where config sets it.
        for set_in_config in options:
            _add(context, Notice(set_in_config, kind, section, sentence.strip(),
                                 _replacement(after),
                                 shape=Shape(option=set_in_config.text[1:], config=True),
                                 version=context.version))
        return
    if not functions:
        if options and (scope := _scope_terms(subject) + _after_scope(after)):
            # "Passing `:accept` as a string to `f/3`" names f only as code we skipped.
            functions = [t for t in scope if t.kind == TermKind.FUNCTION]
        examples = [call for m, _ in spans if (call := EXAMPLE_CALL.match(m.group(1)))]
        if not functions and examples:
            # "Specifying layouts without modules, such as `put_layout(conn, :print)`":
            # each example is a shape of the function it calls.
            for call in examples:
                args = tuple(a for a in split_args(call.group(2)) if a)
                # Trailing keywords are one argument: `from(email, name: …)` is from/2.
                positional = [a for a in args if not KEYWORD_PAIR.match(a)]
                arity = len(positional) + (len(positional) < len(args))
                _add(context, Notice(Term(f"{call.group(1)}/{arity}", TermKind.FUNCTION),
                                     kind, section, sentence.strip(), _replacement(after),
                                     shape=Shape(example=args), version=context.version))
            return
        modules = [(m, t) for m, t in spans if t is not None and t.kind == TermKind.MODULE]
        if not functions and modules:
            # "Defining a backend with `use Gettext, otp_app: …`", "Using `Plug.Parsers`
            # without the `:parsers` option": a usage of the module (its use or plug).
            match, module = modules[0]
            written = KEYWORD_IN_USE.search(match.group(1))
            absent = WITHOUT_OPTION.search(subject)
            option = absent.group(1) if absent else written.group(1) if written else None
            if option is not None:
                _add(context, Notice(module, kind, section, sentence.strip(),
                                     _replacement(after),
                                     shape=Shape(option=option, absent=absent is not None),
                                     version=context.version))
            return
        if not functions:
            return
    function = functions[0]
    words = INLINE_CODE.sub(" ", subject)
    arg = next((k for pattern, k in ARG_WORDS if pattern.search(words)), None)
    example = None
    for match, term in spans:
        call = EXAMPLE_CALL.match(match.group(1))
        if call and (term is None or (term.kind == TermKind.FUNCTION and "/" not in term.text)):
            example = tuple(a.strip() for a in split_args(call.group(2)))
    option = options[0].text[1:] if options else None
    value = next((pair.group(2).strip() for m, t in spans if t in options[:1]
                  and (pair := KEYWORD_PAIR.match(m.group(1)))), None)
    if arg is None and option is None and example is None:
        documented = function.text.partition("/")[2]
        if not documented or not re.match(r"(?i)^(?:[-*]\s*)?defining\b", subject.strip()):
            return  # no shape to tell the retired usage from the supported one
    shape = Shape(arg, option, example, value)
    for function in functions:  # "to `attach/4` or `attach_many/4`": each of them
        _add(context, Notice(function, kind, section, sentence.strip(), _replacement(after),
                             shape=shape, version=context.version))


def _replacement(rest: str) -> str | None:
    if other := OTHER_CLAUSE.search(_masked(rest)):
        rest = rest[:other.start()]
    match = REPLACEMENT_LEAD.search(rest)
    if not match:
        return None
    code = INLINE_CODE.search(rest, match.end())
    return code.group(1) if code else None


def _add(context: _Context, notice: Notice) -> None:
    if len(notice.sentence) > MAX_SENTENCE:
        notice = replace(notice, sentence=quoted(notice.sentence, notice.term.text))
    if notice.kind == NoticeKind.DEPRECATED and context.heading_kind == \
            NoticeKind.SOFT_DEPRECATED:
        # "`literal/1` is deprecated" under "Soft deprecations (no warnings emitted)".
        notice = replace(notice, kind=NoticeKind.SOFT_DEPRECATED)
    context.found.append(notice)


def quoted(sentence: str, term: str, limit: int = MAX_SENTENCE) -> str:
    """``sentence``, or about ``limit`` characters of it around the first mention of
    ``term``, with "…" where it is cut: what a notice cites of a "sentence" that is a
    whole page without a full stop."""
    if len(sentence) <= limit:
        return sentence
    at = max(sentence.find(term), 0)
    start = max(0, min(at - limit // 3, len(sentence) - limit))
    end = start + limit
    if start:  # start and end on a word
        space = sentence.find(" ", start, start + 40)
        start = space + 1 if space >= 0 else start
    space = sentence.rfind(" ", end - 40, end)
    end = space if space > start else end
    return f"{'… ' if start else ''}{sentence[start:end]}{' …' if end < len(sentence) else ''}"


def _dedupe(found: list[Notice]) -> list[Notice]:
    """One notice per (term, kind, scope, shape): the first, i.e. the newest section of a
    changelog. A usage notice and a notice of the whole term are kept apart."""
    seen: dict[tuple[str, NoticeKind, tuple[Term, ...], Shape | None], Notice] = {}
    for notice in found:
        seen.setdefault((notice.term.text, notice.kind, notice.scope, notice.shape), notice)
    return list(seen.values())
