"""Tests of LTI 1.3: a third-party platform (an LMS stand-in) and the grader's tool against it."""
