"""Code that runs inside the student's kernel; the engine ships the `grader_kernel` folder there as files."""
from pathlib import Path

KERNEL_PACKAGE_DIR = Path(__file__).resolve().parent / "grader_kernel"
