"""tornadohub benchmarks against mcp-hub 4.2.1 (see bench/README.md)."""
