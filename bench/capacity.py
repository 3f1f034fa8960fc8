"""How many servers a queue needs: the Erlang C model behind bench/deadline.py's capacity table."""

from __future__ import annotations

import math

WAIT_TOLERANCE = 0.05


def erlang_c(servers: int, load: float) -> float:
    """The chance that an arrival waits in an M/M/C queue with `servers` and `load` (= lambda/mu,
    below `servers`)."""
    term = total = 1.0
    for k in range(1, servers):
        term *= load / k
        total += term
    waiting = term * load / servers * servers / (servers - load)
    return waiting / (total + waiting)


def servers_needed(arrivals_per_s: float, service_seconds: float, wait_budget: float) -> int:
    """The fewest servers (cores, or worker processes) for which at most WAIT_TOLERANCE of the
    submissions wait longer than `wait_budget` seconds."""
    load = arrivals_per_s * service_seconds
    servers = max(1, math.floor(load) + 1)
    while (
        erlang_c(servers, load)
        * math.exp(-(servers / service_seconds - arrivals_per_s) * wait_budget)
        > WAIT_TOLERANCE
    ):
        servers += 1
    return servers
