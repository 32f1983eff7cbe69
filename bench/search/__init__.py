"""Tool search bench: speed over 10,000 tools, quality on real npm servers (see README.md)."""
