"""Resolve ``${...}`` placeholders in a server entry (contract section 8, strict mode).

Resolution is a pure function of the entry, the hub's environment,
``MCP_HUB_ENV`` and the hub's cwd; only ``${cmd: ...}`` touches the outside
world, through an injectable ``run_cmd`` so tests need no shell. It may block
for up to :data:`CMD_TIMEOUT` seconds, so the hub calls it in a worker thread.
Resolved values are never logged: they are often credentials.

Why this module is long: the placeholder grammar (``${env:}``, ``${cmd:}``, ``${VAR}``,
escapes, entries that refer to each other) is one concern, resolved by one pure function.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tornadohub.braces import matching_brace
from tornadohub.errors import PlaceholderError
from tornadohub.processes import spawned, spawning

__all__ = [
    "CMD_TIMEOUT",
    "DEFAULT_ENV_KEYS",
    "MAX_DEPTH",
    "ResolvedServer",
    "env_cycle",
    "parse_hub_env",
    "predefined_variables",
    "resolve_server",
    "resolve_string",
    "run_shell",
]

DEFAULT_ENV_KEYS: tuple[str, ...] = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")
"""The only hub variables a stdio child inherits (the MCP SDK's default environment)."""

CMD_TIMEOUT = 30.0
"""Seconds a ``${cmd: ...}`` may run, as Node's ``exec`` timeout in mcp-hub."""

MAX_DEPTH = 10
"""Deepest allowed nesting of placeholders inside placeholders."""

_MIN_SECRET_LEN = 4  # shorter values would redact ordinary words in logs
_STDERR_LIMIT = 500

RunCmd = Callable[[str], str]


def _js_string(value: Any) -> str:
    """A JSON value as JavaScript's ``String()`` makes it, which is what mcp-hub passes
    on (``true``, ``1``, ``1.5``, ``null``, ``1,2`` for a list, ``[object Object]``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if item is None else _js_string(item) for item in value)
    return "[object Object]"


def _js_number(value: float) -> str:
    """JavaScript's shortest form: plain digits from 1e-6 up to 1e21, else ``1e-7``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if 1e-6 <= abs(value) < 1e21:
        import decimal  # rare (a fraction in a config): not imported on the way to ready

        return format(decimal.Decimal(repr(value)), "f")
    mantissa, exponent = repr(value).split("e")
    return f"{mantissa}e{'-' if exponent.startswith('-') else '+'}{exponent.lstrip('+-0')}"


def keyed_by_index(items: list[Any]) -> dict[str, Any]:
    """A list as JavaScript sees it where an object is expected: keyed by index."""
    return {str(index): item for index, item in enumerate(items)}


def parse_hub_env(raw: str | None) -> tuple[dict[str, str], str | None]:
    """Parse ``MCP_HUB_ENV``; a bad value is a warning, never fatal (as in mcp-hub).

    Returns the variables as strings and the warning to log, if any.
    """
    if not raw:
        return {}, None
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        return {}, f"Failed to parse MCP_HUB_ENV: {exc}"  # mcp-hub's words, as below
    if isinstance(parsed, list):  # a JavaScript array is an object keyed by index
        parsed = keyed_by_index(parsed)
    if not isinstance(parsed, dict):
        return {}, "MCP_HUB_ENV is not a valid object"
    return {key: _js_string(value) for key, value in parsed.items()}, None


def predefined_variables(cwd: str) -> dict[str, str]:
    """VS Code style variables; the hub's environment may override them."""
    trimmed = cwd.rstrip(os.sep) or cwd
    return {
        "workspaceFolder": cwd,
        "cwd": cwd,
        "userHome": os.path.expanduser("~"),
        "pathSeparator": os.sep,
        "/": os.sep,
        "workspaceFolderBasename": os.path.basename(trimmed),
    }


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the shell and whatever it started, so no grandchild keeps the pipes open."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()


def run_shell(command: str, timeout: float = CMD_TIMEOUT) -> str:
    """Run ``command`` with ``/bin/sh -c`` like Node's ``exec``; return trimmed stdout.

    Raises :class:`PlaceholderError` ``cmd execution failed: ...`` on a nonzero
    exit, a timeout or when the shell cannot start.
    """
    with contextlib.ExitStack() as own:
        try:
            with spawning():  # ours, never to be taken for an orphan
                proc = subprocess.Popen(
                    ["/bin/sh", "-c", command],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    encoding="utf-8",
                    errors="replace",
                    start_new_session=True,
                )
                own.enter_context(spawned(proc.pid))
        except OSError as exc:
            raise PlaceholderError(f"cmd execution failed: {exc}") from exc
        return _finish(proc, timeout)


def _finish(proc: subprocess.Popen[str], timeout: float) -> str:
    """Wait for the ``${cmd:}`` shell; its trimmed stdout, or the error it failed with."""
    with proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                proc.communicate(timeout=1.0)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise PlaceholderError(
                f"cmd execution failed: Command timed out after {timeout:g}s"
            ) from None
    if proc.returncode != 0:
        # The command line is left out on purpose: it may hold resolved secrets.
        reason = f"Command failed with exit code {proc.returncode}"
        detail = stderr.strip()[:_STDERR_LIMIT]
        raise PlaceholderError(
            f"cmd execution failed: {reason}" + (f": {detail}" if detail else "")
        )
    return stdout.strip()


class _Resolver:
    """Scans strings for placeholders and remembers the values it substituted."""

    def __init__(
        self,
        context: Mapping[str, str],
        run_cmd: RunCmd,
        public: frozenset[str] = frozenset(),
    ) -> None:
        self.context = context
        self.run_cmd = run_cmd
        self.public = public  # keys whose values are not secret (predefined variables)
        self.pieces: list[str] = []

    def resolve(self, text: str, depth: int = 0) -> str:
        """Replace every balanced ``${...}`` in ``text``; keep the rest literally."""
        if depth > MAX_DEPTH:
            raise PlaceholderError(f"Placeholder nesting deeper than {MAX_DEPTH} levels")
        out: list[str] = []
        index = 0
        while True:
            start = text.find("${", index)
            if start < 0:
                out.append(text[index:])
                return "".join(out)
            out.append(text[index:start])
            end = matching_brace(text, start + 2)
            if end < 0:
                out.append("${")  # unmatched: literal, keep scanning after it
                index = start + 2
                continue
            out.append(self._placeholder(text[start + 2 : end], depth))
            index = end + 1

    def _placeholder(self, body: str, depth: int) -> str:
        # Nothing is trimmed but the command: as in mcp-hub, ``${ A }`` looks up " A "
        # and ``${ cmd: x}`` is a variable too.
        if body.startswith("cmd:"):
            resolved = self.resolve(body[4:], depth + 1)
            command = resolved.strip()
            if not command:
                # mcp-hub's wording, which shows the placeholder with its inner ones resolved
                raise PlaceholderError(
                    f"cmd execution failed: Empty command in cmd: cmd:{resolved}"
                )
            try:
                value = self.run_cmd(command)
            except PlaceholderError:
                raise
            except Exception as exc:  # an injected runner may raise anything
                raise PlaceholderError(f"cmd execution failed: {exc}") from exc
            self.pieces.append(value)
            return value
        name = self.resolve(body, depth + 1) if "${" in body else body
        if name.startswith("env:"):
            name = name[4:]
        return self.lookup(name, f"Variable '{name}' not found")

    def lookup(self, name: str, missing: str) -> str:
        """Context value of ``name``; ``missing`` is the error when there is none."""
        value = self.context.get(name)
        if value is None:
            raise PlaceholderError(missing)
        if name not in self.public:
            self.pieces.append(value)
        return value


def _references(text: str) -> Iterator[str]:
    """The names the placeholders of *text* look up, as far as they can be known unresolved.

    Names inside ``${cmd: ...}`` count; a name computed from another placeholder
    (``${${WHICH}}``) cannot be known, only the names it is computed from.
    """
    index = 0
    while (start := text.find("${", index)) >= 0:
        end = matching_brace(text, start + 2)
        if end < 0:
            index = start + 2
            continue
        content = text[start + 2 : end]
        index = end + 1
        if content.startswith("cmd:"):
            yield from _references(content[4:])
        elif "${" in content:
            yield from _references(content)
        else:
            yield content[4:] if content.startswith("env:") else content


def _env_graph(env: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each ``env`` entry and the other entries it refers to (its own name is inherited)."""
    graph: dict[str, list[str]] = {}
    for key, value in env.items():
        names = _references(value) if isinstance(value, str) else iter(())
        graph[key] = list(dict.fromkeys(n for n in names if n in env and n != key))
    return graph


def _env_order(env: Mapping[str, Any]) -> list[str]:
    """The ``env`` keys, each after the entries it refers to.

    Raises :class:`PlaceholderError` naming the first circle (``A -> B -> A``).
    Iterative depth-first search: a long chain of entries cannot exhaust the stack.
    """
    graph = _env_graph(env)
    order: list[str] = []
    done: set[str] = set()
    for root in graph:
        if root in done:
            continue
        path = [root]
        pending = [iter(graph[root])]
        while pending:
            key = next(pending[-1], None)
            if key is None:
                pending.pop()
                done.add(path[-1])
                order.append(path.pop())
            elif key in path:
                circle = [*path[path.index(key) :], key]
                raise PlaceholderError(f"Circular env reference: {' -> '.join(circle)}")
            elif key not in done:
                path.append(key)
                pending.append(iter(graph[key]))
    return order


def env_cycle(env: Mapping[str, Any]) -> str | None:
    """``A -> B -> A`` when entries of *env* refer to each other in a circle, else None.

    For ``check-config`` and the config loader: found without resolving anything.
    """
    try:
        _env_order(env)
    except PlaceholderError as exc:
        return exc.message.removeprefix("Circular env reference: ")
    return None


class _EnvScope(Mapping[str, str]):
    """The base context with an entry's own ``env`` on top, each entry resolved once.

    Entries refer to each other in any order. An entry referring to its own name
    means the inherited value (``"PATH": "/opt/bin:${PATH}"``), as ``null`` does.
    Entries are resolved in :func:`_env_order`; a name only known once resolved
    (``${${WHICH}}``) is resolved when first looked up, and a circle found that
    way is an error naming it too.
    """

    def __init__(
        self,
        raw: Mapping[str, Any],
        base: Mapping[str, str],
        run_cmd: RunCmd,
        public: frozenset[str],
    ) -> None:
        self.raw = raw
        self.base = base
        self.resolved: dict[str, str] = {}
        self.chain: list[str] = []  # entries being resolved, outermost first
        self.tracker = _Tracker(_Resolver(self, run_cmd, public.difference(raw)))

    def resolve_all(self) -> dict[str, str]:
        """Every entry, in the order of ``env``."""
        for key in _env_order(self.raw):
            self._entry(key)
        return {key: self.resolved[key] for key in self.raw}

    def __getitem__(self, name: str) -> str:
        if name in self.resolved:
            return self.resolved[name]
        if name not in self.raw or (self.chain and self.chain[-1] == name):
            return self.base[name]
        return self._entry(name)

    def _entry(self, name: str) -> str:
        if name in self.resolved:
            return self.resolved[name]
        if name in self.chain:
            circle = [*self.chain[self.chain.index(name) :], name]
            raise PlaceholderError(f"Circular env reference: {' -> '.join(circle)}")
        if len(self.chain) > MAX_DEPTH:
            raise PlaceholderError(f"Placeholder nesting deeper than {MAX_DEPTH} levels")
        value = self.raw[name]
        self.chain.append(name)
        try:
            if value is None or value == "":
                resolved = self.tracker.inherit(name, f"Variable '{name}' not found")
            elif isinstance(value, str):
                resolved = self.tracker.field(value)
            else:
                resolved = _js_string(value)
        finally:
            self.chain.pop()
        self.resolved[name] = resolved
        return resolved

    def __iter__(self) -> Iterator[str]:
        return iter({**self.base, **self.raw})

    def __len__(self) -> int:
        return len({**self.base, **self.raw})


def resolve_string(value: str, context: Mapping[str, str], *, run_cmd: RunCmd = run_shell) -> str:
    """Resolve the placeholders of one string against ``context`` (strict mode).

    ``${NAME}``/``${env:NAME}`` look ``NAME`` up, ``${input:ID}`` looks up
    ``input:ID``, and ``${cmd: ...}`` resolves its inner placeholders and then
    runs the command. Values from the context or a command are not re-scanned.
    """
    return _Resolver(context, run_cmd).resolve(value)


@dataclass(frozen=True)
class ResolvedServer:
    """A server entry with its placeholders resolved, ready to connect.

    ``env`` is the complete child environment. ``secrets`` holds the values
    that came from a placeholder or a command, for :meth:`redact`.
    """

    command: str | None
    args: list[str]
    env: dict[str, str]
    cwd: str | None
    url: str | None
    headers: dict[str, str]
    secrets: frozenset[str]

    def redact(self, text: str) -> str:
        """Hide every secret in ``text`` (longest first, so overlaps are covered)."""
        return _redact(text, self.secrets)


class _Tracker:
    """Resolves the fields of one entry and collects the values that are secret."""

    def __init__(self, resolver: _Resolver) -> None:
        self.resolver = resolver
        self.secrets: set[str] = set()

    def field(self, text: str, *, secret: bool = True) -> str:
        """Resolve ``text``; if anything was substituted, it and the result are secret."""
        before = len(self.resolver.pieces)
        return self._collect(before, self.resolver.resolve(text), secret)

    def inherit(self, name: str, missing: str) -> str:
        """A whole value taken from the context (env ``null``/``""``, legacy ``$VAR``)."""
        before = len(self.resolver.pieces)
        return self._collect(before, self.resolver.lookup(name, missing), True)

    def arg(self, text: str) -> str:
        """One stdio argument, honouring the deprecated whole-argument ``$VAR`` form."""
        if text.startswith("$") and not text.startswith("${"):
            name = text[1:]
            return self.inherit(name, f"Legacy variable '{name}' not found")
        return self.field(text)

    def known_secrets(self) -> frozenset[str]:
        """Secrets so far, including pieces of a field whose resolution failed."""
        found = self.secrets.union(self.resolver.pieces)
        return frozenset(s for s in found if len(s) >= _MIN_SECRET_LEN)

    def _collect(self, before: int, value: str, secret: bool) -> str:
        pieces = self.resolver.pieces[before:]
        if secret and pieces:
            self.secrets.update(pieces)
            self.secrets.add(value)
        del self.resolver.pieces[before:]
        return value


def _redact(text: str, secrets: frozenset[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def resolve_server(
    config: Mapping[str, Any],
    *,
    environ: Mapping[str, str],
    hub_env: Mapping[str, str],
    cwd: str,
    run_cmd: RunCmd = run_shell,
) -> ResolvedServer:
    """Resolve ``env`` first, then args, headers, url, command and cwd against it.

    ``env`` entries may refer to each other in any order (mcp-hub resolves each
    against the hub's variables only, contrary to its docs); a circle of them is a
    :class:`PlaceholderError` naming it (``Circular env reference: A -> B -> A``).

    Raises :class:`PlaceholderError` with mcp-hub's message on the first
    unresolved variable or failed command; values already resolved are
    redacted from that message, since it ends up in logs and the API.
    """
    predefined = predefined_variables(cwd)
    context: dict[str, str] = {**predefined, **environ, **hub_env}
    raw_env = config.get("env")
    if raw_env is None:
        raw_env = {}
    elif not isinstance(raw_env, Mapping):
        raise PlaceholderError("Invalid env: expected an object")
    public = frozenset(k for k in predefined if k not in environ and k not in hub_env)
    scope = _EnvScope(raw_env, context, run_cmd, public)
    base = tracker = scope.tracker
    try:
        # env: entries may refer to each other (and to the context), in any order.
        env = scope.resolve_all()

        tracker = _Tracker(_Resolver({**context, **env}, run_cmd, public.difference(env)))
        tracker.secrets.update(base.secrets)

        args: list[str] = []
        raw_args = config.get("args")
        if isinstance(raw_args, list):
            args = [tracker.arg(a) if isinstance(a, str) else _js_string(a) for a in raw_args]

        headers: dict[str, str] = {}
        raw_headers = config.get("headers")
        if isinstance(raw_headers, Mapping):
            for key, value in raw_headers.items():
                if isinstance(value, str):
                    headers[key] = tracker.field(value)
                else:
                    headers[key] = _js_string(value)
        elif raw_headers is not None:
            raise PlaceholderError("Invalid headers: expected an object")

        url = _optional(config, "url", tracker, secret=True)
        command = _optional(config, "command", tracker, secret=False)
        work_dir = _optional(config, "cwd", tracker, secret=False)
    except PlaceholderError as exc:
        known = base.known_secrets() | tracker.known_secrets()
        if not known:
            raise
        raise PlaceholderError(_redact(exc.message, known), code=exc.code, data=exc.data) from None

    defaults = {
        key: environ[key]
        for key in DEFAULT_ENV_KEYS
        # The SDK skips values that look like exported shell functions.
        if key in environ and not environ[key].startswith("()")
    }
    return ResolvedServer(
        command=command,
        args=args,
        env={**defaults, **hub_env, **env},
        cwd=work_dir,
        url=url,
        headers=headers,
        secrets=tracker.known_secrets(),
    )


def _optional(
    config: Mapping[str, Any], key: str, tracker: _Tracker, *, secret: bool
) -> str | None:
    """Resolve a string field that may be absent or null."""
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PlaceholderError(f"Invalid {key}: expected a string")
    return tracker.field(value, secret=secret)
