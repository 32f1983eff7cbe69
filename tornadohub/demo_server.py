"""A tiny, offline MCP server bundled with tornadohub for the quick start.

Run it directly with ``python -m tornadohub.demo_server`` (it speaks MCP over stdio), or let
the hub start it from ``tornadohub/examples/demo.json``.

It offers:

* tools ``echo(message)``, ``add(a, b)`` and ``get_time()``;
* the resource ``demo://readme`` and the resource template ``demo://greeting/{name}``;
* the prompt ``greet(name)``.
"""

from datetime import UTC, datetime

from mcp.server import MCPServer

from tornadohub import __version__

README = """# tornadohub demo server

This server ships with tornadohub so that you can try the hub without installing anything else.

* `echo(message)` returns `Echo: <message>`.
* `add(a, b)` returns the sum of two numbers.
* `get_time()` returns the current UTC time in ISO 8601 format.
"""


def build_server() -> MCPServer:
    """Return the demo server with its tools, resources and prompts registered."""
    server: MCPServer = MCPServer(
        "tornadohub-demo",
        version=__version__,
        instructions="A demo server bundled with tornadohub. Try the echo and add tools.",
    )

    @server.tool(description="Echo a message back.", structured_output=False)
    def echo(message: str) -> str:
        return f"Echo: {message}"

    @server.tool(description="Add two numbers.")
    def add(a: float, b: float) -> float:
        return a + b

    @server.tool(description="Return the current UTC time (ISO 8601).", structured_output=False)
    def get_time() -> str:
        return datetime.now(UTC).isoformat()

    @server.resource(
        "demo://readme",
        name="readme",
        description="What this demo server offers.",
        mime_type="text/markdown",
    )
    def readme() -> str:
        return README

    @server.resource(
        "demo://greeting/{name}",
        name="greeting",
        description="A greeting for the given name.",
        mime_type="text/plain",
    )
    def greeting(name: str) -> str:
        return f"Hello, {name}!"

    @server.prompt(description="Ask the model to greet someone.")
    def greet(name: str) -> str:
        return f"Please write a short, friendly greeting for {name}."

    return server


def main() -> None:
    """Serve the demo server over stdio until stdin closes."""
    build_server().run()


if __name__ == "__main__":
    main()
