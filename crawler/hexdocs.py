"""The two forms of a hexdocs.pm URL, and the one identity behind them.

Since 1 June 2026 hexdocs.pm serves every public package from its own subdomain:
``https://hexdocs.pm/phoenix_live_view/welcome.html`` answers 301 to
``https://phoenix-live-view.hexdocs.pm/welcome.html``. DNS labels allow no ``_`` and hex
package names no ``-``, so the mapping is exact both ways. A page keeps one identity
whatever form it is fetched, configured or typed in: :func:`url_key` folds both forms
to the path form. Mirrors that serve hosts as a path prefix
(``http://mirror/<host>/<path>``, as offline replicas do) are recognised too, by the
first path segment.
"""

from __future__ import annotations

import functools
from typing import NamedTuple
from urllib.parse import urlsplit

HOST = "hexdocs.pm"
SUFFIX = "." + HOST
# URLs whose identity (and package, module) is remembered: a page's few lookups in a
# row hit, and the memory stays the same for 10,000 packages as for 500.
URL_CACHE = 4096


class HexdocsUrl(NamedTuple):
    """A hexdocs URL taken apart: ``prefix`` is what precedes the host (``https://``, or
    a mirror's ``http://mirror/``), ``rest`` the path inside the package docs, with its
    leading ``/`` (empty for a root written without its slash)."""

    prefix: str
    package: str
    rest: str

    @property
    def path_form(self) -> str:
        return f"{self.prefix}{HOST}/{self.package}{self.rest}"

    @property
    def subdomain_form(self) -> str:
        return f"{self.prefix}{self.package.replace('_', '-')}{SUFFIX}{self.rest}"


def parse(url: str) -> HexdocsUrl | None:
    """``url`` as a hexdocs URL of either form, or None when it is not one."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    tail = parts.path + (f"?{parts.query}" if parts.query else "") \
        + (f"#{parts.fragment}" if parts.fragment else "")
    found = _split(f"{parts.scheme}://", parts.netloc.lower(), tail)
    if found is None and parts.path.strip("/"):
        # A mirror serving the host as the first path segment (a root maybe without "/").
        host, slash, inner = tail.lstrip("/").partition("/")
        found = _split(f"{parts.scheme}://{parts.netloc}/", host.lower(), slash + inner)
    return found


def _split(prefix: str, host: str, tail: str) -> HexdocsUrl | None:
    if host.endswith(SUFFIX):
        label = host[: -len(SUFFIX)]
        if label and "." not in label and "_" not in label:
            return HexdocsUrl(prefix, label.replace("-", "_"), tail)
        return None
    if host == HOST:
        package, slash, rest = tail.lstrip("/").partition("/")
        if package and not package.startswith(("?", "#")) and "-" not in package:
            return HexdocsUrl(prefix, package, slash + rest)
    return None


@functools.lru_cache(maxsize=URL_CACHE)
def url_key(url: str) -> str:
    """The identity of ``url``: a hexdocs URL in its path form, any other URL as it is.

    Works on ``watches`` globs too (``https://*.hexdocs.pm/*`` → ``https://hexdocs.pm/*/*``).
    """
    found = parse(url)
    # ``url`` itself when it is in path form: every page's memory keeps its identity.
    return url if found is None or (key := found.path_form) == url else key


def url_forms(url: str) -> list[str]:
    """``url`` and, for a hexdocs URL, the same page in the other form."""
    found = parse(url)
    if found is None:
        return [url]
    return list(dict.fromkeys([url, found.path_form, found.subdomain_form]))


@functools.lru_cache(maxsize=URL_CACHE)
def package_of(url: str) -> str | None:
    """The hex package a hexdocs URL documents (either form), else None."""
    found = parse(url)
    return found.package if found else None
