"""Where the hub keeps its files, following mcp-hub's XDG rules exactly.

mcphub.nvim reads ``workspaces.json`` directly, so the hub must resolve the very same
paths: a legacy ``~/.mcp-hub/<subdir>`` wins when it exists, otherwise the XDG base
directory (``$XDG_<KIND>_HOME`` or its default) plus ``mcp-hub/<subdir>``.
``home`` and ``environ`` can be injected so tests never touch the real home.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

XdgKind = Literal["data", "state", "config"]

#: The pre-XDG directory mcp-hub used; it still takes precedence when present.
LEGACY_DIRNAME = ".mcp-hub"
APP_DIRNAME = "mcp-hub"

_XDG_ENV: dict[str, tuple[str, tuple[str, ...]]] = {
    "data": ("XDG_DATA_HOME", (".local", "share")),
    "state": ("XDG_STATE_HOME", (".local", "state")),
    "config": ("XDG_CONFIG_HOME", (".config",)),
}


def xdg_dir(
    kind: XdgKind,
    subdir: str = "",
    *,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Return the directory for ``kind``/``subdir`` without creating it.

    The legacy check is on ``~/.mcp-hub/<subdir>`` (on ``~/.mcp-hub`` itself when
    ``subdir`` is empty). An empty ``$XDG_*_HOME`` counts as unset, as in mcp-hub.
    """
    home_dir = Path.home() if home is None else home
    env = os.environ if environ is None else environ
    legacy = home_dir / LEGACY_DIRNAME / subdir if subdir else home_dir / LEGACY_DIRNAME
    if legacy.exists():
        return legacy
    var, default_parts = _XDG_ENV[kind]
    base_value = env.get(var, "")
    base = Path(base_value) if base_value else home_dir.joinpath(*default_parts)
    app_dir = base / APP_DIRNAME
    return app_dir / subdir if subdir else app_dir


def log_file_path(*, home: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The shared text log, truncated by every hub start: ``<state>/logs/mcp-hub.log``."""
    return xdg_dir("state", "logs", home=home, environ=environ) / "mcp-hub.log"


def workspaces_file_path(
    *, home: Path | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The workspace cache all hubs and mcphub.nvim share: ``<state>/workspaces.json``."""
    return xdg_dir("state", home=home, environ=environ) / "workspaces.json"


def oauth_storage_path(
    *, home: Path | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """Tokens and client registrations of remote servers: ``<data>/oauth-storage.json``."""
    return xdg_dir("data", home=home, environ=environ) / "oauth-storage.json"


def marketplace_cache_path(
    *, home: Path | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The cached marketplace catalog served offline: ``<data>/cache/registry.json``."""
    return xdg_dir("data", "cache", home=home, environ=environ) / "registry.json"


def write_atomic(path: Path, text: str, *, mode: int | None = None, durable: bool = False) -> None:
    """Replace *path*'s content in one step: a reader sees the old file or the new, never half.

    The text goes to a temporary file beside *path* (given *mode* before anything is
    written, so secrets are never readable by others), which then replaces *path*;
    *durable* also syncs it to disk first. The directory is created if missing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
