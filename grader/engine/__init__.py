"""The grading engine: a plain library that takes files and returns JSON-able reports."""
