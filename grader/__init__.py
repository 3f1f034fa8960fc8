"""Auto-grading service for Jupyter lab notebooks."""
