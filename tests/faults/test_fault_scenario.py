"""Faults survived: 10% injected faults plus random cancellations, over 20 seeds."""

from __future__ import annotations

import pytest

from _support.fault_scenario import run_scenario

SEEDS = range(20)


@pytest.mark.parametrize("seed", SEEDS)
async def test_no_leaks_and_every_result_once_under_faults(seed: int) -> None:
    report = await run_scenario(seed)
    assert report.problems() == []
    assert report.left_on_server == 0
    assert report.faults_seen >= 20  # ~10% of several hundred requests
    # The scenario did real work: most sessions were made and most uses succeeded.
    if not report.batch_cancelled:
        assert report.batch_sessions + report.batch_failures == 200
        assert report.batch_sessions >= 180
    assert report.pool_uses_ok >= 140
    assert len(report.results) >= report.pool_uses_ok
