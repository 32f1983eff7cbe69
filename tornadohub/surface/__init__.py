"""Tool-surface control: what each MCP endpoint shows of the upstreams (issue 16).

Pure modules, no I/O and no tornado:

* :mod:`.globs`: the glob syntax of filters;
* :mod:`.filters`: a server's ``disabled_*`` lists (mcphub.nvim) and
  ``tools``/``prompts``/``resources`` include/exclude filters;
* :mod:`.profiles`: the top-level ``profiles`` key;
* :mod:`.view`: :func:`parse_surface` reads all of it from a merged config
  document into one :class:`Surface`, with every message for ``check-config``;
* :mod:`.search`: the BM25 tool index behind search mode;
* :mod:`.meta_tools`: ``search_tools`` and ``call_tool``, their definitions,
  argument checks and results.
"""

from tornadohub.surface.profiles import Profile
from tornadohub.surface.search import SearchHit, ToolIndex
from tornadohub.surface.view import EMPTY_SURFACE, Surface, parse_surface

__all__ = ["EMPTY_SURFACE", "Profile", "SearchHit", "Surface", "ToolIndex", "parse_surface"]
