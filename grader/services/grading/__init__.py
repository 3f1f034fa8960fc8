"""Grading runs: claiming and recording them, the sweeper that re-sends lost ones,
which workers are alive."""
