"""The live runner: a burst of requests runs the newest only, off the GUI thread."""

from __future__ import annotations

import threading
import time

from surgiplan.errors import InputError
from surgiplan.ui.live_runner import LiveRunner


def test_a_burst_runs_the_newest_request_in_a_worker(qtbot):
    runner = LiveRunner(debounce_ms=10)
    ran, threads = [], []

    def job(n):
        def work():
            threads.append(threading.get_ident())
            time.sleep(0.05)
            ran.append(n)
            return n
        return work

    with qtbot.waitSignal(runner.finished, timeout=10_000) as blocker:
        for n in range(20):
            runner.request(job(n))
    result, latency_ms = blocker.args
    assert result == 19 and ran[-1] == 19
    assert len(ran) < 20  # superseded requests were dropped
    assert latency_ms >= 50.0  # it includes the 50 ms of work
    assert threading.get_ident() not in threads
    assert not runner.is_busy
    runner.shutdown()


def test_requests_during_a_run_are_answered_by_one_more_run(qtbot):
    runner = LiveRunner(debounce_ms=1)
    started = threading.Event()
    ran = []

    def slow():
        started.set()
        time.sleep(0.2)
        ran.append("slow")
        return "slow"

    def fast(tag):
        return lambda: (ran.append(tag), tag)[1]

    runner.request(slow)
    qtbot.waitUntil(started.is_set, timeout=5_000)
    with qtbot.waitSignal(runner.finished, timeout=10_000) as blocker:
        runner.request(fast("a"))
        runner.request(fast("b"))
    assert blocker.args[0] == "b" and ran == ["slow", "b"]
    runner.shutdown()


def test_errors_are_reported_not_raised(qtbot):
    runner = LiveRunner(debounce_ms=1)

    def bad():
        raise InputError("the instrument left the scan: move it back")

    with qtbot.waitSignal(runner.failed, timeout=5_000) as blocker:
        runner.request(bad)
    assert "left the scan" in blocker.args[0]
    assert not runner.is_busy
    runner.shutdown()
