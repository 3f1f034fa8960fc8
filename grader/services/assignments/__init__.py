"""Assignments: creating them from packages, their rules (dates, penalty, attempts), rubric,
release check."""
