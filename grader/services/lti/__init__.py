"""The grader as an LTI 1.3 Advantage tool: platforms and keys, launches, deep linking, grade
passback (AGS) and class lists (NRPS), on top of pylti1p3."""
