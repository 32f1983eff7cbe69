"""``python -m tornadohub`` enters the same main as the ``mcp-hub`` script."""

from tornadohub.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
