"""The tools AGB Local serves through `POST /mcp`: the table and its handlers (`table`), the
payload texts they answer with (`format`), and the HTTP routes in front of them (`routes`)."""

from .table import TOOLS, Tool, ToolInvocation, ToolOutput, call_tool

__all__ = ["TOOLS", "Tool", "ToolInvocation", "ToolOutput", "call_tool"]
