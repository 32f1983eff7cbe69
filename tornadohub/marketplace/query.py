"""Querying the catalog (pure): search, category, tags and sort, as mcp-hub answers them; and
where a server's README may be read from.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DEFAULT_README_BASE_URL = "https://raw.githubusercontent.com"


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _tags(item: Mapping[str, Any]) -> list[str]:
    tags = item.get("tags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def number_of(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _name_key(item: Mapping[str, Any]) -> tuple[str, str]:
    """Approximates JavaScript's ``localeCompare``: accents and case are secondary."""
    name = text_of(item.get("name"))
    base = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return base.casefold(), name.swapcase()


def query_servers(
    servers: Iterable[Mapping[str, Any]],
    *,
    search: str | None = None,
    category: str | None = None,
    tags: Sequence[str] | None = None,
    sort: str | None = None,
) -> list[dict[str, Any]]:
    """Filter and sort catalog entries exactly as mcp-hub does.

    ``search``: case-insensitive substring of the name, the description or any tag;
    ``category``: exact; ``tags``: every listed tag present (exact); ``sort``: ``stars``
    (descending), ``name`` (locale order), anything else ``newest`` (``lastCommit``
    descending). Sorts are stable.
    """
    items = [dict(item) for item in servers]
    if search:
        needle = search.lower()
        items = [
            item
            for item in items
            if needle in text_of(item.get("name")).lower()
            or needle in text_of(item.get("description")).lower()
            or any(needle in tag.lower() for tag in _tags(item))
        ]
    if category:
        items = [item for item in items if item.get("category") == category]
    if tags:
        items = [item for item in items if all(tag in _tags(item) for tag in tags)]
    if sort == "stars":
        return sorted(items, key=lambda item: -number_of(item.get("stars")))
    if sort == "name":
        return sorted(items, key=_name_key)
    return sorted(items, key=lambda item: -number_of(item.get("lastCommit")))


_GITHUB_URL = re.compile(
    r"^https?://(?:www\.)?github\.com/(?P<owner>[^/?#]+)/(?P<repo>[^/?#]+)"
    r"(?:/tree/(?P<ref>[^/?#]+)(?:/(?P<path>[^?#]*?))?)?/?(?:[?#].*)?$"
)


def readme_urls(url: str, base: str = DEFAULT_README_BASE_URL) -> list[str]:
    """Raw README URLs to try for a GitHub repository URL (empty for anything else).

    ``main`` then ``master`` at the repository root, as mcp-hub; a ``/tree/<ref>/<dir>``
    URL (a server inside a monorepo) first tries that directory's README.
    """
    match = _GITHUB_URL.match(url.strip()) if isinstance(url, str) else None
    if match is None:
        return []
    owner, repo = match["owner"], match["repo"].removesuffix(".git")
    root = f"{base.rstrip('/')}/{owner}/{repo}"
    candidates = []
    if match["ref"] and match["path"]:
        candidates.append(f"{root}/{match['ref']}/{match['path'].strip('/')}/README.md")
    candidates += [f"{root}/main/README.md", f"{root}/master/README.md"]
    return list(dict.fromkeys(candidates))
