"""Day planning: assign many jobs at once by optimal matching, versus greedy one-by-one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from dispatch.assignment.scoring import F64, FleetColumns, Job, Weights, driver_costs

# A finite stand-in for "infeasible" that no real deadhead reaches (the solver needs finites).
INFEASIBLE_KM = 1e7


@dataclass(frozen=True)
class Plan:
    pairs: list[tuple[int, int]]  # (job index, driver row)
    deadhead_km: float
    unassigned: list[int]


def cost_matrix(fleet: FleetColumns, jobs: list[Job], weights: Weights) -> F64:
    """Deadhead km of every (job, driver); INFEASIBLE_KM where the driver cannot take it."""
    matrix = np.empty((len(jobs), len(fleet.driver_ids)))
    for i, job in enumerate(jobs):
        cost, deadhead = driver_costs(fleet, job, weights)
        matrix[i] = np.where(np.isfinite(cost), deadhead, INFEASIBLE_KM)
    return matrix


def _plan_from(pairs: list[tuple[int, int]], matrix: F64, jobs: int) -> Plan:
    kept = [(j, d) for j, d in pairs if matrix[j, d] < INFEASIBLE_KM]
    done = {j for j, _ in kept}
    return Plan(
        pairs=kept,
        deadhead_km=round(float(sum(matrix[j, d] for j, d in kept)), 3),
        unassigned=[j for j in range(jobs) if j not in done],
    )


def optimal(matrix: F64) -> Plan:
    """Minimum total deadhead, one job per driver (Hungarian / Jonker-Volgenant)."""
    if matrix.size == 0:
        return Plan([], 0.0, list(range(matrix.shape[0])))
    rows, cols = linear_sum_assignment(matrix)
    return _plan_from(list(zip(rows.tolist(), cols.tolist(), strict=True)), matrix, matrix.shape[0])


def greedy(matrix: F64) -> Plan:
    """Each job in turn takes the nearest driver still free (the baseline)."""
    taken = np.zeros(matrix.shape[1], dtype=bool)
    pairs: list[tuple[int, int]] = []
    for j in range(matrix.shape[0]):
        row = np.where(taken, np.inf, matrix[j])
        if row.size == 0:
            break
        d = int(np.argmin(row))
        if row[d] < INFEASIBLE_KM:
            taken[d] = True
            pairs.append((j, d))
    return _plan_from(pairs, matrix, matrix.shape[0])
