"""The HTTP handlers of AGB Local's routes, one module per family (agb-wire.md §3).

The tool routes (`/mcp`, `/mcp/listTools`) live with the tool table in `..tools.routes`.
"""
