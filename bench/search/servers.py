"""The real MCP servers whose tool definitions the search bench ranks.

Only how to install and start each one is committed here (package, pinned version,
arguments, dummy credentials); their tool definitions are captured at run time
(:mod:`bench.search.capture`) and never committed. Every server lists its tools
without reaching the network: credentials are placeholders and every outbound
connection other than loopback is refused by ``guard.cjs``.

``id`` is the server's name in the bench catalog, so tools are ranked under the
public names a hub would give them: ``<id>__<tool>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NpmServer:
    id: str
    package: str
    version: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    bin: str | None = None  # the package.json "bin" entry to run when there are several

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def folder(self) -> str:
        """Install prefix under build/search-bench/npm (one per package, no peer conflicts)."""
        return self.package.lstrip("@").replace("/", "__")


_DEAD = "http://127.0.0.1:9"  # discard port: nothing listens there

# Left out because they cannot list their tools here: @supabase/mcp-server-supabase and
# @stripe/mcp (fetch their tools from their remote service), @modelcontextprotocol/server-gitlab
# 2025.4.25 (an inputSchema without "type": the SDK client rejects the list),
# @modelcontextprotocol/server-redis (exits without a Redis), @azure-devops/mcp (native keytar
# module: needs install scripts), @heroku/mcp-server 1.2.8 (broken SDK import),
# @neondatabase/mcp-server-neon 0.6.5 (does not install).
NPM_SERVERS: tuple[NpmServer, ...] = (
    # the reference servers
    NpmServer("everything", "@modelcontextprotocol/server-everything", "2026.8.31", ("stdio",)),
    NpmServer("filesystem", "@modelcontextprotocol/server-filesystem", "2026.8.31", ("{tmp}",)),
    NpmServer(
        "memory",
        "@modelcontextprotocol/server-memory",
        "2026.8.31",
        env={"MEMORY_FILE_PATH": "{tmp}/memory.jsonl"},
    ),
    NpmServer(
        "sequential_thinking", "@modelcontextprotocol/server-sequential-thinking", "2026.8.31"
    ),
    NpmServer(
        "github",
        "@modelcontextprotocol/server-github",
        "2025.4.8",
        env={"GITHUB_PERSONAL_ACCESS_TOKEN": "dummy"},
    ),
    NpmServer(
        "slack",
        "@modelcontextprotocol/server-slack",
        "2025.4.25",
        env={"SLACK_BOT_TOKEN": "xoxb-dummy", "SLACK_TEAM_ID": "T000"},
    ),
    NpmServer("puppeteer", "@modelcontextprotocol/server-puppeteer", "2025.5.12"),
    NpmServer(
        "google_maps",
        "@modelcontextprotocol/server-google-maps",
        "0.6.2",
        env={"GOOGLE_MAPS_API_KEY": "dummy"},
    ),
    NpmServer(
        "brave_search",
        "@modelcontextprotocol/server-brave-search",
        "0.6.2",
        env={"BRAVE_API_KEY": "dummy"},
    ),
    NpmServer(
        "postgres",
        "@modelcontextprotocol/server-postgres",
        "0.6.2",
        ("postgresql://127.0.0.1:9/x",),
    ),
    NpmServer(
        "everart", "@modelcontextprotocol/server-everart", "0.6.2", env={"EVERART_API_KEY": "dummy"}
    ),
    NpmServer(
        "aws_kb",
        "@modelcontextprotocol/server-aws-kb-retrieval",
        "0.6.2",
        env={
            "AWS_ACCESS_KEY_ID": "dummy",
            "AWS_SECRET_ACCESS_KEY": "dummy",
            "AWS_REGION": "us-east-1",
        },
    ),
    # other real servers published on npm
    NpmServer("playwright", "@playwright/mcp", "0.0.83"),
    NpmServer("chrome_devtools", "chrome-devtools-mcp", "1.11.0"),
    NpmServer("notion", "@notionhq/notion-mcp-server", "2.5.2", env={"NOTION_TOKEN": "ntn_dummy"}),
    NpmServer("desktop_commander", "@wonderwhy-er/desktop-commander", "0.2.52"),
    NpmServer("kubernetes", "mcp-server-kubernetes", "4.1.7"),
    NpmServer(
        "mongodb",
        "mongodb-mcp-server",
        "3.0.4",
        env={
            "MDB_MCP_API_CLIENT_ID": "dummy",
            "MDB_MCP_API_CLIENT_SECRET": "dummy",
            "MDB_MCP_TELEMETRY": "disabled",
        },
    ),
    NpmServer(
        "gitlab_full",
        "@zereight/mcp-gitlab",
        "2.1.64",
        env={
            "GITLAB_PERSONAL_ACCESS_TOKEN": "dummy",
            "GITLAB_API_URL": f"{_DEAD}/api/v4",
            "USE_GITLAB_WIKI": "true",
            "USE_MILESTONE": "true",
            "USE_PIPELINE": "true",
        },
    ),
    NpmServer("context7", "@upstash/context7-mcp", "4.1.1"),
    NpmServer("firecrawl", "firecrawl-mcp", "3.26.0", env={"FIRECRAWL_API_KEY": "fc-dummy"}),
    NpmServer(
        "circleci", "@circleci/mcp-server-circleci", "0.20.0", env={"CIRCLECI_TOKEN": "dummy"}
    ),
    NpmServer("git", "@cyanheads/git-mcp-server", "2.15.3", env={"MCP_TRANSPORT_TYPE": "stdio"}),
    NpmServer("ea_playwright", "@executeautomation/playwright-mcp-server", "1.0.12"),
    NpmServer("tavily", "tavily-mcp", "0.2.22", env={"TAVILY_API_KEY": "tvly-dummy"}),
    NpmServer("sentry", "@sentry/mcp-server", "0.39.0", ("--access-token=dummy",)),
    NpmServer("hubspot", "@hubspot/mcp-server", "0.4.0", env={"PRIVATE_APP_ACCESS_TOKEN": "dummy"}),
    NpmServer("mastra_docs", "@mastra/mcp-docs-server", "1.2.27"),
    NpmServer(
        "perplexity", "@perplexity-ai/mcp-server", "1.2.1", env={"PERPLEXITY_API_KEY": "dummy"}
    ),
    NpmServer("exa", "exa-mcp-server", "3.4.1", env={"EXA_API_KEY": "dummy"}),
)
