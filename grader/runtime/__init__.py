"""Code that runs inside the kernels; the engine ships these folders there as files.

`grader_kernel` goes into the student's kernel (course runtime, answer exports); `scoring_kernel`
into the scoring kernel, which rebuilds and retrains the exported models and never runs student
code.
"""

from pathlib import Path

KERNEL_PACKAGE_DIR = Path(__file__).resolve().parent / "grader_kernel"
SCORING_PACKAGE_DIR = Path(__file__).resolve().parent / "scoring_kernel"
