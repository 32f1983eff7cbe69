"""tornadohub: a drop-in, faster and safer replacement for the Node.js mcp-hub."""

__version__ = "0.1.0"

#: The mcp-hub API version that clients (mcphub.nvim) check in /api/health and --version.
CONTRACT_VERSION = "4.2.1"
