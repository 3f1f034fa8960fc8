"""The metrics every process records (imported on first use only: see grader.metrics).

In multiprocess mode each process writes these to its own file in the service's folder and a
scrape sums the files; none is a live gauge, so a process that dies leaves correct sums behind.
"""

from prometheus_client import Counter, Histogram

# From a quick notebook on a warm kernel to a long TensorFlow lab near its time limit.
GRADING_BUCKETS = (1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)
# From an idle service (a few seconds) to a deadline-night backlog (an hour or more).
FEEDBACK_BUCKETS = (5, 10, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200)

RUNS_FINISHED = Counter(
    "grader_runs_finished",
    "Grading runs finished, by outcome (graded, failed).",
    ["outcome"],
)
GRADING_SECONDS = Histogram(
    "grader_grading_duration_seconds",
    "Seconds a grading took: executing the notebook plus scoring it (reused gradings excluded).",
    buckets=GRADING_BUCKETS,
)
TIME_TO_FEEDBACK = Histogram(
    "grader_time_to_feedback_seconds",
    "Seconds from a run being queued (the upload, or the re-grade request) to its result.",
    buckets=FEEDBACK_BUCKETS,
)
KERNEL_POOL = Counter(
    "grader_kernel_pool",
    "Notebooks run in a kernel started ahead of time (hit) or started for them (miss).",
    ["result"],
)
SANDBOX_REFUSALS = Counter(
    "grader_sandbox_refusals",
    "Refusals to grade because the sandbox is unavailable: at worker start, or for one grading.",
    ["where"],
)
SCORING_CACHE_HITS = Counter(
    "grader_scoring_cache_hits",
    "Retrained models' answers taken from the clean-room cache: models not retrained.",
)
REUSED_GRADINGS = Counter(
    "grader_reused_gradings",
    "Gradings taken whole from an identical notebook graded before (nothing ran).",
)
LTI_SCORE_SENDS = Counter(
    "grader_lti_score_sends",
    "Scores sent to LMS line items, by outcome: sent, refused (retried later), failed (gave up).",
    ["outcome"],
)
