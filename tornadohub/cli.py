"""``mcp-hub``: the command line, compatible with mcp-hub 4.2.1's flags.

``mcp-hub --port P --config C`` (no subcommand, as editors launch it) means
``mcp-hub serve ...``. A dotenv file is read here, never on import, and only when
``--env-file`` names it: an editor starts the hub inside whatever checkout is open, and
a ``.env`` there must not set the hub's ``MCP_HUB_*`` variables (``MCP_HUB_ENV`` reaches
every server; ``MCP_HUB_ALLOWED_ORIGINS`` would open the hub to a web page) or
``NODE_OPTIONS``, ``LD_PRELOAD`` and the like for the commands it runs.

Why this module is long: one parser for four commands (``serve``, ``check-config``,
``add``, ``lb-config``) and the translation of every flag into
:class:`~tornadohub.options.HubOptions`; the flags are the user's documentation, so they
stay together and in order.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tornadohub import CONTRACT_VERSION, __version__

if TYPE_CHECKING:
    import asyncio
    import socket

    from tornadohub.cluster.options import ClusterOptions
    from tornadohub.config import HubConfig
    from tornadohub.keys import Keyring
    from tornadohub.options import McpOptions
    from tornadohub.policy import EdgePolicy

SUBCOMMANDS = ("serve", "check-config", "add", "lb-config")


class _VersionAction(argparse.Action):
    """mcphub.nvim parses the first stdout line as the mcp-hub version, so print it alone."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help=str(kwargs.get("help", "")))

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(CONTRACT_VERSION)
        print(f"tornadohub {__version__}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-hub",
        description="A hub that supervises many MCP servers behind one REST API and /mcp endpoint.",
        epilog="Example: mcp-hub --port 3000 --config ./global.json --config ./project.json",
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the mcp-hub API version (first line) and tornadohub's version",
    )
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the hub (the default command)")
    serve.add_argument("-p", "--port", type=int, required=True, help="port to listen on")
    _add_config(serve)
    serve.add_argument("-w", "--watch", action="store_true", help="watch config files")
    serve.add_argument(
        "--auto-shutdown",
        action="store_true",
        help="exit when the last /api/events client disconnects",
    )
    serve.add_argument(
        "--shutdown-delay", type=int, default=0, metavar="MS", help="delay before that exit (ms)"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; mcp-hub listens on all interfaces)",
    )
    serve.add_argument(
        "--env-file",
        metavar="FILE",
        help="dotenv file to load (none by default: a .env in the working directory is ignored)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warn", "error"])
    serve.add_argument(
        "--connect-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long a server may take to start and list its capabilities (default 300)",
    )
    serve.add_argument(
        "--shutdown-timeout",
        type=_non_negative_float,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, how long calls in flight may take to finish before they are"
        " cancelled (default 10)",
    )
    serve.add_argument(
        "--min-ready-servers",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="/readyz answers 503 while fewer than N servers are connected (default 0)",
    )
    serve.add_argument(
        "--auth-token-file",
        metavar="FILE",
        help="require an API key on /api/* and /mcp: one 'name:token' (or bare token) per line;"
        " MCP_HUB_AUTH_TOKENS='name:token,...' adds more",
    )
    serve.add_argument(
        "--metrics-auth", action="store_true", help="require an API key on /metrics too"
    )
    serve.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback --host without API keys",
    )
    serve.add_argument(
        "--allowed-hosts",
        action="append",
        default=[],
        metavar="HOSTS",
        help="Host names besides loopback the hub answers to, comma-separated (e.g. the name a"
        " reverse proxy passes; *.example.com for subdomains); env MCP_HUB_ALLOWED_HOSTS",
    )
    serve.add_argument(
        "--allowed-origins",
        action="append",
        default=[],
        metavar="ORIGINS",
        help="web origins (scheme://host[:port]) whose pages may call the hub, with CORS,"
        " comma-separated; env MCP_HUB_ALLOWED_ORIGINS",
    )
    serve.add_argument(
        "--max-connections",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="most HTTP connections open at once; more wait until one closes (default 1000)",
    )
    serve.add_argument(
        "--http-server",
        type=_http_server,
        default=os.environ.get("TORNADOHUB_HTTP_SERVER", "httptools"),
        metavar="{httptools,tornado}",
        help="HTTP/1.1 wire layer: httptools (default) or Tornado's own;"
        " env TORNADOHUB_HTTP_SERVER",
    )
    serve.add_argument(
        "--loop",
        type=_event_loop,
        default=os.environ.get("TORNADOHUB_LOOP") or _default_event_loop(),
        metavar="{uvloop,asyncio}",
        help="event loop: uvloop (default where installed) or asyncio's own; env TORNADOHUB_LOOP",
    )
    _add_mcp_tunables(serve)
    _add_unprefixed(serve)
    _add_marketplace(serve)
    _add_cluster(serve)

    check = commands.add_parser(
        "check-config",
        help="validate config files and list every error",
        description="Validate config files and list every error. In unprefixed mode"
        " (--unprefixed, or mcpEndpoint.unprefixed in a config) also start each enabled"
        " server once and list the names /mcp would publish prefixed because two servers"
        " define them (warnings: the exit status stays 0).",
    )
    _add_config(check)
    _add_unprefixed(check)
    check.add_argument(
        "--connect-timeout",
        type=_non_negative_float,
        default=60.0,
        metavar="SECONDS",
        help="unprefixed mode: how long a server may take to start and list (default 60)",
    )

    add = commands.add_parser(
        "add",
        help="add a marketplace server to a config file (a --watch hub starts it)",
        description="Write a marketplace entry into a config file; comments are kept.",
    )
    add.add_argument("id", metavar="ID", help="marketplace id (see GET /api/marketplace)")
    add.add_argument(
        "-c",
        "--config",
        action="append",
        metavar="FILE",
        help="config file to edit (default: ~/.config/mcphub/servers.json)",
    )
    add.add_argument("--installation", metavar="NAME", help="installation method (default: first)")
    add.add_argument("--name", metavar="KEY", help="server key in the config (default: from ID)")
    add.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fill a ${KEY} placeholder (repeatable); others stay for the environment",
    )
    add.add_argument("--force", action="store_true", help="replace an existing entry")
    _add_marketplace(add)

    lb = commands.add_parser(
        "lb-config",
        help="print the load balancer config for several hubs (cluster mode)",
        description="Print the nginx config that routes each MCP session to the hub that"
        " owns it and everything else round-robin.",
    )
    lb.add_argument("--nginx", action="store_true", required=True, help="nginx (the only one)")
    lb.add_argument(
        "--nodes",
        required=True,
        metavar="ID=HOST:PORT,...",
        help="every hub: its --node-id and the address nginx reaches it at",
    )
    lb.add_argument("--listen", default="8080", help="nginx listen address (default 8080)")
    lb.add_argument("--server-name", default="_", help="nginx server_name (default _)")
    return parser


#: The ``/mcp`` tunables: (field of McpOptions, type, metavar, help); each flag is
#: ``--mcp-<field>`` and falls back to ``TORNADOHUB_MCP_<FIELD>``.
MCP_TUNABLES: tuple[tuple[str, type, str, str], ...] = (
    ("page_size", int, "N", "items per list page (default 1000)"),
    ("max_sessions", int, "N", "open sessions in all (default 1000)"),
    ("max_sessions_per_client", int, "N", "per API key, or client address (default 100)"),
    ("idle_timeout", float, "SECONDS", "an idle session ends after (default 1800)"),
    ("keepalive", float, "SECONDS", "': ping' on a quiet stream every (default 15)"),
    ("max_body", int, "BYTES", "largest request body (default and most 4 MiB)"),
    ("request_timeout", float, "SECONDS", "one forwarded request, at most (default 300)"),
)


def _add_mcp_tunables(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "/mcp tunables", "each falls back to the environment variable TORNADOHUB_MCP_<NAME>"
    )
    for name, kind, metavar, text in MCP_TUNABLES:
        group.add_argument(
            f"--mcp-{name.replace('_', '-')}",
            dest=f"mcp_{name}",
            type=_positive_int if kind is int else _positive_float,
            metavar=metavar,
            help=text,
        )


def mcp_options(args: argparse.Namespace, environ: Mapping[str, str]) -> McpOptions:
    """The ``--mcp-*`` flags, else ``TORNADOHUB_MCP_*``, else the defaults."""
    from tornadohub.options import McpOptions

    given = {name: getattr(args, f"mcp_{name}", None) for name, *_ in MCP_TUNABLES}
    return McpOptions.from_environ(environ, **given)


def _add_cluster(parser: argparse.ArgumentParser) -> None:
    from tornadohub.cluster.options import add_arguments

    group = parser.add_argument_group(
        "cluster mode",
        "several hubs behind a load balancer, Redis as the control plane (README: Running"
        " several hubs); each flag falls back to its TORNADOHUB_* environment variable;"
        " without a Redis URL the hub runs alone and none of these apply",
    )
    add_arguments(group)


def _add_marketplace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--marketplace-url",
        metavar="URL",
        help="marketplace catalog (registry.json) URL (env MCP_HUB_MARKETPLACE_URL)",
    )
    parser.add_argument(
        "--registry-url",
        metavar="URL",
        help="also list the official MCP Registry at URL (env MCP_HUB_REGISTRY_URL; default off)",
    )


def _add_unprefixed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--unprefixed",
        action="store_true",
        help="/mcp publishes names and URIs unique across servers without the server prefix"
        ' (config: "mcpEndpoint": {"unprefixed": true})',
    )


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _http_server(text: str) -> str:
    if text not in ("httptools", "tornado"):
        raise argparse.ArgumentTypeError(f"httptools or tornado, not {text!r}")
    return text


def _event_loop(text: str) -> str:
    if text not in ("asyncio", "uvloop"):
        raise argparse.ArgumentTypeError(f"uvloop or asyncio, not {text!r}")
    if text == "uvloop" and not _has_uvloop():
        raise argparse.ArgumentTypeError("uvloop is not installed")
    return text


def _has_uvloop() -> bool:
    from importlib.util import find_spec

    return find_spec("uvloop") is not None


def _default_event_loop() -> str:
    """uvloop where the platform has it (about 6-10% less CPU per call at C=1), else asyncio."""
    return "uvloop" if _has_uvloop() else "asyncio"


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the event loop *name* (None: asyncio's default)."""
    if name != "uvloop":
        return None
    import uvloop

    return uvloop.new_event_loop


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        action="extend",
        nargs="+",
        required=True,
        metavar="FILE",
        help="config file (repeatable; merged in order, later entries replace earlier ones)",
    )


def _normalise_argv(argv: Sequence[str]) -> list[str]:
    """The bare form ``mcp-hub --port P --config C`` means ``serve``."""
    args = list(argv)
    if args and (args[0] in SUBCOMMANDS or args[0] in ("-h", "--help", "--version")):
        return args
    return ["serve", *args]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(_normalise_argv(sys.argv[1:] if argv is None else argv))
    if args.command == "check-config":
        return check_config(
            args.config, unprefixed=args.unprefixed, connect_timeout=args.connect_timeout
        )
    if args.command == "lb-config":
        return lb_config(args)
    if args.command == "add":
        from tornadohub.marketplace.install import run_add

        return run_add(
            args.id,
            configs=args.config,
            key=args.name,
            installation=args.installation,
            params=args.param,
            force=args.force,
            marketplace_url=args.marketplace_url,
            registry_url=args.registry_url,
        )
    return run_serve(args)


def check_config(
    paths: list[str], *, unprefixed: bool = False, connect_timeout: float = 60.0
) -> int:
    from tornadohub.config import check_config as collect_errors

    errors = collect_errors(paths)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        print(f"{len(errors)} error(s) in {', '.join(paths)}", file=sys.stderr)
        return 1
    print(f"OK: {', '.join(paths)}")
    if unprefixed or _configured_unprefixed(paths):
        import asyncio

        for warning in asyncio.run(_name_warnings(paths, connect_timeout)):
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def lb_config(args: argparse.Namespace) -> int:
    from tornadohub.cluster.lb_config import parse_nodes, render_nginx

    try:
        nodes = parse_nodes(args.nodes)
    except ValueError as exc:
        print(f"Error: --nodes: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render_nginx(nodes, listen=args.listen, server_name=args.server_name))
    return 0


def _configured_unprefixed(paths: list[str]) -> bool:
    from tornadohub.config import load_config

    settings = load_config(paths).data.get("mcpEndpoint")
    return isinstance(settings, dict) and settings.get("unprefixed") is True


async def _name_warnings(paths: list[str], connect_timeout: float) -> list[str]:
    """Start every enabled server once, as ``serve`` would, and report what unprefixed mode
    cannot publish unchanged (and the servers that did not connect, whose names are unknown).
    """
    import logging

    from tornadohub.hub import Hub
    from tornadohub.mcp import endpoint_names
    from tornadohub.options import ConnectPolicy, HubOptions
    from tornadohub.placeholders import parse_hub_env
    from tornadohub.state import UpstreamStatus

    logging.getLogger("tornadohub").setLevel(logging.CRITICAL)  # the warnings below say it
    options = HubOptions(
        config_paths=paths,
        port=0,
        environ=dict(os.environ),
        hub_env=parse_hub_env(os.environ.get("MCP_HUB_ENV"))[0],
        connect_policy=ConnectPolicy(connect_timeout=connect_timeout),
        unprefixed=True,
    )
    hub = Hub(options)
    try:
        await hub.initialize()
        warnings = [
            f"server '{upstream.name}' did not connect ({upstream.error}); its names are unknown"
            for upstream in hub.upstreams.values()
            if not upstream.disabled and upstream.status is not UpstreamStatus.connected
        ]
        for collision in (endpoint_names(hub) or {}).get("nameCollisions", []):
            servers = ", ".join(f"'{server}'" for server in collision["servers"])
            warnings.append(
                f"{collision['kind']} '{collision['name']}' is defined by {servers}:"
                " /mcp publishes it with the server prefix"
            )
        return warnings
    finally:
        await hub.shutdown()


def run_serve(args: argparse.Namespace) -> int:
    """Check what can fail fast (auth, policy, config, the port), then run the hub.

    Only light modules are imported here: the MCP SDK and the application come in
    :func:`_serve_hub`, after the config's STDIO servers started (see :mod:`tornadohub.spawn`).
    """
    if args.env_file is not None:
        from dotenv import load_dotenv

        if not Path(args.env_file).is_file():
            print(f"Error: env file not found: {args.env_file}", file=sys.stderr)
            return 1
        load_dotenv(args.env_file, override=False)

    import asyncio

    from tornadohub.cluster.options import resolve as cluster_options
    from tornadohub.config import load_config
    from tornadohub.errors import ConfigError
    from tornadohub.keys import AuthConfigError
    from tornadohub.listener import FatalError, bind
    from tornadohub.log import setup_logging
    from tornadohub.paths import log_file_path
    from tornadohub.placeholders import parse_hub_env
    from tornadohub.policy import PolicyConfigError

    setup_logging(args.log_level, log_file=log_file_path())
    import logging

    log = logging.getLogger("tornadohub.cli")
    hub_env, warning = parse_hub_env(os.environ.get("MCP_HUB_ENV"))
    if warning:
        log.warning(warning)
    try:
        keyring = inbound_auth(args)
        policy = edge_policy(args)
    except (AuthConfigError, PolicyConfigError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    try:
        cluster = cluster_options(vars(args), os.environ)
        config = load_config(args.config)  # fail fast, before taking the port; the hub runs it
        sockets = bind(args.host, args.port)
        hop_sockets = (
            bind(cluster.internal_host, cluster.internal_port)
            if cluster is not None and cluster.internal_port
            else []
        )
    except (ConfigError, FatalError) as exc:
        message = exc.message if isinstance(exc, ConfigError) else str(exc)
        print(f"Error: {message}", file=sys.stderr)
        return 1
    try:
        with asyncio.Runner(loop_factory=_loop_factory(args.loop)) as runner:
            runner.run(
                _serve_hub(args, config, sockets, keyring, policy, hub_env, cluster, hop_sockets)
            )
    except ConfigError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 1
    except FatalError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


async def _serve_hub(
    args: argparse.Namespace,
    config: HubConfig,
    sockets: list[socket.socket],
    keyring: Keyring | None,
    policy: EdgePolicy,
    hub_env: dict[str, str],
    cluster: ClusterOptions | None,
    hop_sockets: list[socket.socket],
) -> None:
    """Start the config's STDIO servers, then import and build the hub, which adopts them.

    *cluster*: cluster mode's options (None: embedded); *hop_sockets*: its internal listener.
    """
    import asyncio
    import gc
    import logging

    from tornadohub.processes import watch_children
    from tornadohub.spawn import EarlyChildren

    loop_module = type(asyncio.get_running_loop()).__module__.partition(".")[0]
    logging.getLogger("tornadohub.cli").debug("event loop: %s", loop_module)

    environ = dict(os.environ)
    cwd = os.getcwd()
    restore_child_watcher = watch_children()  # before any server starts
    early_children = EarlyChildren()
    try:
        await early_children.start(config, environ=environ, hub_env=hub_env, cwd=cwd)
        # The imports create ~150,000 objects that live as long as the process: collecting
        # meanwhile costs ~10% of their time and finds nothing, and later full collections
        # need not walk them again.
        gc.disable()
        try:
            from tornadohub import metrics
            from tornadohub.app import serve
            from tornadohub.hub import Hub
            from tornadohub.options import ConnectionLimits, ConnectPolicy, HubOptions
            from tornadohub.paths import oauth_storage_path, workspaces_file_path
            from tornadohub.workspace import WorkspaceCache
        finally:
            gc.enable()
        gc.freeze()
        if keyring is not None:
            metrics.bind_auth(keyring.names)
        options = HubOptions(
            config_paths=list(args.config),
            port=args.port,
            host=args.host,
            watch=args.watch,
            auto_shutdown=args.auto_shutdown,
            shutdown_delay_ms=args.shutdown_delay,
            environ=environ,
            hub_env=hub_env,
            cwd=cwd,
            connect_policy=ConnectPolicy.from_environ(
                os.environ, connect_timeout=args.connect_timeout
            ),
            min_ready_servers=args.min_ready_servers,
            shutdown_timeout=args.shutdown_timeout,
            marketplace_url=args.marketplace_url or os.environ.get("MCP_HUB_MARKETPLACE_URL"),
            registry_url=args.registry_url or os.environ.get("MCP_HUB_REGISTRY_URL"),
            oauth_store_path=oauth_storage_path(),
            unprefixed=args.unprefixed,
            metrics_auth=args.metrics_auth,
            mcp=mcp_options(args, os.environ),
            limits=ConnectionLimits.from_environ(
                os.environ, max_connections=args.max_connections, http_server=args.http_server
            ),
            cluster=cluster,
        )
        hub = Hub(
            options,
            workspace=WorkspaceCache(workspaces_file_path(), args.port),
            early_children=early_children,
        )
        await serve(
            hub, sockets, keys=keyring, policy=policy, hop_sockets=hop_sockets, config=config
        )
    finally:
        await early_children.close()
        restore_child_watcher()


def edge_policy(args: argparse.Namespace) -> EdgePolicy:
    """Hosts and origins allowed besides loopback: the flags plus the environment variables.

    Raises PolicyConfigError for an entry that is not a host name or an origin.
    """
    from tornadohub.policy import (
        ALLOWED_HOSTS_ENV,
        ALLOWED_ORIGINS_ENV,
        policy_from,
        split_list,
    )

    hosts = [host for value in args.allowed_hosts for host in split_list(value)]
    origins = [origin for value in args.allowed_origins for origin in split_list(value)]
    hosts += split_list(os.environ.get(ALLOWED_HOSTS_ENV))
    origins += split_list(os.environ.get(ALLOWED_ORIGINS_ENV))
    return policy_from(args.host, hosts, origins)


def inbound_auth(args: argparse.Namespace) -> Keyring | None:
    """The API keys (None: auth off); raises AuthConfigError when the hub must not start.

    The caller gives the key names to :func:`tornadohub.metrics.bind_auth`.

    ``MCP_HUB_AUTH_TOKENS`` is removed from the environment once read, so neither server
    processes, ``${cmd: ...}`` commands nor placeholders can see it.
    """
    import logging

    from tornadohub.keys import (
        AuthConfigError,
        drop_from_environment,
        is_loopback_host,
        load_keyring,
    )

    keyring = load_keyring(args.auth_token_file, os.environ)
    drop_from_environment(os.environ)
    if keyring is None:
        if args.metrics_auth:
            raise AuthConfigError(
                "--metrics-auth needs API keys (--auth-token-file or MCP_HUB_AUTH_TOKENS)"
            )
        if not is_loopback_host(args.host) and not args.insecure:
            raise AuthConfigError(
                f"refusing to listen on {args.host} without API keys: give --auth-token-file"
                " or MCP_HUB_AUTH_TOKENS, or --insecure to allow it"
            )
        return None
    logging.getLogger("tornadohub.cli").info(
        "API keys required on /api and /mcp: %s",
        ", ".join(keyring.names),
        extra={"data": {"keys": keyring.names, "metrics": bool(args.metrics_auth)}},
    )
    return keyring
