"""The official MCP Registry's ``server.json`` entries, as mcp-hub's ``RegistryServer``s.

``GET <base>/v0/servers`` answers cursor pages of ``server.json`` entries
(:func:`registry_api_url`); :func:`official_entry` maps one into the catalog's shape:
packages (npm, PyPI, OCI, NuGet) become installations run by ``npx``, ``uvx``, ``docker``
or ``dnx``, remotes become URL installations, and their variables become parameters.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tornadohub.marketplace.query import text_of

#: The category given to entries from the official MCP Registry (it has no categories).
OFFICIAL_CATEGORY = "mcp-registry"


OFFICIAL_META = "io.modelcontextprotocol.registry/official"


_RUNNERS = {"npm": "npx", "pypi": "uvx", "oci": "docker", "nuget": "dnx"}


_PREREQUISITES = {"npx": "Node.js", "uvx": "uv", "docker": "Docker", "dnx": ".NET"}


_INSTALLATION_NAMES = {"oci": "docker"}


_TEMPLATE_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _env_key(name: str) -> str:
    """A placeholder key usable as an environment variable name."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name.strip().lstrip("-")).upper() or "VALUE"


class _Params:
    """Collects the parameters (``${KEY}`` placeholders) of one installation."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def placeholder(self, key: str, spec: Mapping[str, Any], label: str | None = None) -> str:
        if key not in self.items:
            param: dict[str, Any] = {"name": label or key, "key": key}
            if isinstance(spec.get("description"), str):
                param["description"] = spec["description"]
            hint = spec.get("placeholder") or spec.get("default")
            if isinstance(hint, str):
                param["placeholder"] = hint
            param["required"] = bool(spec.get("isRequired", False))
            self.items[key] = param
        return "${" + key + "}"

    def template(self, value: str, variables: Any) -> str:
        """``{var}`` template variables become ``${var}`` placeholders."""
        specs = variables if isinstance(variables, Mapping) else {}

        def replace(match: re.Match[str]) -> str:
            spec = specs.get(match[1])
            return self.placeholder(match[1], spec if isinstance(spec, Mapping) else {})

        return _TEMPLATE_VAR.sub(replace, value)

    def input_value(self, spec: Mapping[str, Any], key: str, label: str) -> str:
        """A fixed value, a default for an optional input, else a placeholder."""
        value = spec.get("value")
        if isinstance(value, str):
            return self.template(value, spec.get("variables"))
        default = spec.get("default")
        if isinstance(default, str) and not spec.get("isRequired"):
            return default
        return self.placeholder(key, spec, label)


def _arguments(specs: Any, params: _Params) -> list[str]:
    args: list[str] = []
    for spec in specs if isinstance(specs, list) else []:
        if not isinstance(spec, Mapping):
            continue
        if spec.get("type") == "named" and isinstance(spec.get("name"), str):
            flag = spec["name"]
            if "value" in spec or "default" in spec or spec.get("isRequired"):
                value = params.input_value(spec, _env_key(flag), flag)
                args.append(f"{flag}={value}")
            else:
                args.append(flag)
        elif spec.get("type") == "positional":
            hint = spec.get("valueHint")
            if isinstance(spec.get("value"), str) or isinstance(hint, str):
                key = _env_key(hint) if isinstance(hint, str) else "VALUE"
                args.append(params.input_value(spec, key, hint if isinstance(hint, str) else key))
    return args


def _package_installation(package: Mapping[str, Any]) -> dict[str, Any] | None:
    transport = package.get("transport")
    transport_type = transport.get("type") if isinstance(transport, Mapping) else "stdio"
    registry_type = package.get("registryType")
    identifier = package.get("identifier")
    if transport_type != "stdio" or not isinstance(identifier, str):
        return None  # an HTTP package would need running *and* connecting: not one entry
    runner = package.get("runtimeHint") or _RUNNERS.get(str(registry_type))
    if not isinstance(runner, str):
        return None
    params = _Params()
    version = package.get("version") if isinstance(package.get("version"), str) else None
    env: dict[str, str] = {}
    for spec in package.get("environmentVariables") or []:
        if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
            env[spec["name"]] = params.input_value(spec, spec["name"], spec["name"])
    runtime_args = _arguments(package.get("runtimeArguments"), params)
    if runner == "npx":
        target = f"{identifier}@{version}" if version else identifier
        args = [*(runtime_args or ["-y"]), target]
    elif runner == "uvx":
        args = [*runtime_args, f"{identifier}@{version}" if version else identifier]
    elif runner == "docker":
        image = identifier
        if version and not re.search(r"[:@][^/]*$", identifier):
            image = f"{identifier}:{version}"
        passthrough = [arg for name in env for arg in ("-e", name)]
        args = [*(runtime_args or ["run", "-i", "--rm", *passthrough]), image]
    elif runner == "dnx":
        args = [*runtime_args, f"{identifier}@{version}" if version else identifier, "--yes"]
    else:
        args = [*runtime_args, identifier]
    args += _arguments(package.get("packageArguments"), params)
    config: dict[str, Any] = {"command": runner, "args": args}
    if env:
        config["env"] = env
    return {
        "name": _INSTALLATION_NAMES.get(str(registry_type), str(registry_type or runner)),
        "description": f"Run {identifier} with {runner}",
        "config": json.dumps(config, indent=2),
        "prerequisites": [_PREREQUISITES.get(runner, runner)],
        "parameters": list(params.items.values()),
        "transports": ["stdio"],
    }


def _remote_installation(remote: Mapping[str, Any]) -> dict[str, Any] | None:
    kind, url = remote.get("type"), remote.get("url")
    if kind not in ("streamable-http", "sse") or not isinstance(url, str):
        return None
    params = _Params()
    config: dict[str, Any] = {"url": params.template(url, remote.get("variables"))}
    headers: dict[str, str] = {}
    for spec in remote.get("headers") or []:
        if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
            headers[spec["name"]] = params.input_value(spec, _env_key(spec["name"]), spec["name"])
    if headers:
        config["headers"] = headers
    return {
        "name": f"remote-{kind}",
        "description": f"Connect to the hosted server over {kind}",
        "config": json.dumps(config, indent=2),
        "parameters": list(params.items.values()),
        "transports": [kind],
    }


def _author(name: str) -> str:
    namespace = name.split("/", 1)[0]
    for prefix in ("io.github.", "io.gitlab."):
        if namespace.startswith(prefix):
            return namespace[len(prefix) :]
    return namespace


def _unix_seconds(iso: Any) -> int | None:
    if not isinstance(iso, str):
        return None
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def official_entry(
    server: Mapping[str, Any], meta: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """Map one official ``server.json`` (plus its registry ``_meta``) to a RegistryServer.

    ``id`` is the registry name (``io.github.owner/server``); each stdio package and each
    remote becomes one installation whose ``config`` is a JSON string, with environment
    variables, headers, arguments and URL variables as ``${KEY}`` placeholders listed in
    its ``parameters``. Entries with nothing installable are dropped (None).
    """
    name = server.get("name")
    if not isinstance(name, str) or not name:
        return None
    installations = [
        inst
        for inst in [
            *(
                _package_installation(p)
                for p in server.get("packages") or []
                if isinstance(p, Mapping)
            ),
            *(
                _remote_installation(r)
                for r in server.get("remotes") or []
                if isinstance(r, Mapping)
            ),
        ]
        if inst is not None
    ]
    if not installations:
        return None
    tags: list[str] = []
    for package in server.get("packages") or []:
        if isinstance(package, Mapping) and isinstance(package.get("registryType"), str):
            tags.append(package["registryType"])
    if server.get("remotes"):
        tags.append("remote")
    transports = list(dict.fromkeys(t for inst in installations for t in inst["transports"]))
    tags = list(dict.fromkeys([*tags, *transports]))
    repository = server.get("repository")
    url = repository.get("url") if isinstance(repository, Mapping) else None
    official = (meta or {}).get(OFFICIAL_META)
    official = official if isinstance(official, Mapping) else {}
    updated = official.get("updatedAt") or official.get("publishedAt")
    entry: dict[str, Any] = {
        "id": name,
        "name": text_of(server.get("title")) or name,
        "description": text_of(server.get("description")),
        "author": _author(name),
        "url": url if isinstance(url, str) else text_of(server.get("websiteUrl")),
        "category": OFFICIAL_CATEGORY,
        "tags": tags,
        "transports": transports,
        "installations": installations,
        "featured": False,
        "verified": False,
        "stars": 0,
    }
    if isinstance(server.get("version"), str):
        entry["version"] = server["version"]
    if isinstance(updated, str):
        entry["updatedAt"] = updated
        if (seconds := _unix_seconds(updated)) is not None:
            entry["lastCommit"] = seconds
    return entry


def official_items(page: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """``(server, meta)`` pairs of one page (``{server, _meta}`` items, or bare server.json)."""
    pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    for item in page["servers"]:
        if not isinstance(item, Mapping):
            continue
        nested = item.get("server")
        server: Mapping[str, Any] = nested if isinstance(nested, Mapping) else item
        meta = item.get("_meta") if isinstance(item.get("_meta"), Mapping) else server.get("_meta")
        pairs.append((server, meta if isinstance(meta, Mapping) else {}))
    return pairs


def registry_api_url(base: str) -> str:
    """``<base>/v0/servers`` unless *base* already names a servers endpoint."""
    path = urllib.parse.urlsplit(base).path.rstrip("/")
    if re.search(r"/v0(?:\.\d+)?/servers$", path):
        return base
    return base.rstrip("/") + "/v0/servers"
