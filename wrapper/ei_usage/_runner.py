"""Running many requests at once: bounded concurrency, partial failure, stopping early.

Bulk operations (compute-time reports, entitlement checks) hand a list of jobs and a ``send``
function to one of these runners and get back one outcome per job, in job order:

* the result, when the request succeeded;
* the :class:`~ei_usage.EdgeImpulseError` it failed with (an unexpected exception of one request,
  a bug, is wrapped in one, with the original as ``__cause__``, rather than losing every finished
  result);
* None, when the run stopped before the job was done.

A run stops early, and says why:

* when the server is clearly unreachable: after ``stop_after`` consecutive jobs failed with a
  connection error (refused, reset, timed out, bad certificate), the rest are not sent;
* when the server keeps throttling: a job failed with a 429 once the client's patience with
  throttling ran out (``throttled``, the client's :meth:`RateController.throttled_out`); the
  jobs in flight stop too, and nothing more is sent;
* on Ctrl-C (threads): nothing more is sent (not even by a worker that had passed every check
  and was about to write its request: see :class:`~ei_usage._transport.StopEvent`), waits and
  reads in flight end within a fraction of a second (their ``stop`` event is set), and
  :class:`Interrupted` carries the outcomes so far. In async code the caller's cancellation
  propagates as usual.

At most ``concurrency`` jobs are in flight, and never more alive than that: memory grows with the
results kept, not with the number of jobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from ._errors import APIConnectionError, EdgeImpulseError, RateLimitError
from ._transport import StopEvent

if TYPE_CHECKING:
    import asyncio
    import threading
    from collections.abc import Awaitable, Callable, Sequence
    from concurrent.futures import Future

# asyncio and concurrent.futures are imported where a run starts, not here: a tool that makes
# one call never pays for them (`from ei_usage import Client` stays light, bench/RESULTS.md).

J = TypeVar("J")
R = TypeVar("R")

DEFAULT_STOP_AFTER = 5
"""Consecutive connection failures after which a run stops sending (the server is down)."""

INTERRUPTED = "interrupted (Ctrl-C)"


class Stopped(Exception):  # noqa: N818 - a signal between the client and the runners
    """A call gave up because its run is stopping; it never leaves the runners."""


class Interrupted(Generic[R], KeyboardInterrupt):
    """Ctrl-C stopped a threaded run; ``outcomes`` holds what had finished.

    Still a KeyboardInterrupt, so that one the caller did not turn into ReportInterrupted stops
    the program all the same.
    """

    def __init__(self, outcomes: list[R | EdgeImpulseError | None]) -> None:
        super().__init__(INTERRUPTED)
        self.outcomes = outcomes


def unexpected(error: Exception) -> EdgeImpulseError:
    """Wrap an exception no request should raise (a bug), so a run keeps its other results."""
    detail = str(error)
    detail = detail if len(detail) <= 200 else detail[:199] + "…"
    wrapped = EdgeImpulseError(f"unexpected {type(error).__name__}: {detail}")
    wrapped.__cause__ = error  # the traceback, for whoever debugs it
    return wrapped


def _as_outcome(error: Exception) -> EdgeImpulseError | None:
    if isinstance(error, Stopped):
        return None
    if isinstance(error, EdgeImpulseError):
        return error
    return unexpected(error)


class Breaker:
    """Trips after ``limit`` consecutive connection failures, in the order jobs finish.

    Also on a job failed by a 429 while ``throttled()`` gives a reason: the server's throttling
    outlasted the client's patience.
    """

    def __init__(self, limit: int, throttled: Callable[[], str | None] | None = None) -> None:
        self._limit = limit
        self._throttled = throttled
        self._streak = 0
        self.reason: str | None = None

    def record(self, outcome: object) -> bool:
        """Count one finished job; return True the moment the run should stop.

        A success or another kind of failure resets the count; a stopped job (None) does not.
        """
        if isinstance(outcome, RateLimitError) and self._throttled is not None:
            reason = self._throttled()
            if reason is not None and self.reason is None:
                self.reason = reason
                return True
        if isinstance(outcome, APIConnectionError):
            self._streak += 1
            if self._streak >= self._limit and self.reason is None:
                self.reason = (
                    f"the server looks unreachable: {self._limit} requests in a row failed to "
                    f"connect ({outcome.message})"
                )
                return True
        elif outcome is not None:
            self._streak = 0
        return False


def _progress(on_progress: Callable[[int, int], None] | None, done: int, total: int) -> None:
    if on_progress is not None:
        on_progress(done, total)


async def run_async(
    jobs: Sequence[J],
    send: Callable[[J], Awaitable[R]],
    concurrency: int,
    on_progress: Callable[[int, int], None] | None,
    *,
    stop_after: int = DEFAULT_STOP_AFTER,
    throttled: Callable[[], str | None] | None = None,
    on_outcome: Callable[[int, R | EdgeImpulseError | None], None] | None = None,
) -> tuple[list[R | EdgeImpulseError | None], str | None]:
    """Run ``jobs`` on the running event loop with ``concurrency`` workers.

    ``throttled`` says why the client gave up on a throttling server, or None (see module).
    ``on_outcome(index, outcome)`` is called as each job finishes (a history store keeps
    rows as they arrive); an exception it raises stops the run and is raised.

    Returns:
        The outcome of each job, in job order, and why the run stopped early (or None).
    """
    import asyncio

    outcomes: list[R | EdgeImpulseError | None] = [None] * len(jobs)
    pending = enumerate(jobs)
    breaker = Breaker(stop_after, throttled)
    workers: list[asyncio.Task[None]] = []
    done = 0

    async def worker() -> None:
        nonlocal done
        # Workers pull jobs one at a time: no task per job, so 20,000 jobs cost no more memory
        # than 2,000 beyond their (small) results.
        for index, job in pending:
            try:
                outcomes[index] = await send(job)
            except Exception as error:  # recorded: one job must not lose all
                outcomes[index] = _as_outcome(error)
            if on_outcome is not None:
                on_outcome(index, outcomes[index])
            done += 1
            _progress(on_progress, done, len(jobs))
            if breaker.record(outcomes[index]):
                # Stop the others where they are: their jobs count as not done.
                for task in workers:
                    if task is not asyncio.current_task():
                        task.cancel()
                return

    workers.extend(asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(jobs))))
    try:
        results = await asyncio.gather(*workers, return_exceptions=True)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
    return outcomes, breaker.reason


def run_threads(
    jobs: Sequence[J],
    send: Callable[[J, threading.Event], R],
    concurrency: int,
    on_progress: Callable[[int, int], None] | None,
    *,
    stop_after: int = DEFAULT_STOP_AFTER,
    throttled: Callable[[], str | None] | None = None,
    on_outcome: Callable[[int, R | EdgeImpulseError | None], None] | None = None,
) -> tuple[list[R | EdgeImpulseError | None], str | None]:
    """Run ``jobs`` on a thread pool (sharing the sync client's connection pool).

    ``throttled`` says why the client gave up on a throttling server, or None (see module).
    ``on_outcome(index, outcome)`` is called on the calling thread as each job finishes (a
    history store keeps rows as they arrive); an exception it raises stops the run and is
    raised.

    ``on_progress`` is called on the calling thread, never concurrently. ``send`` gets the run's
    stop event: once it is set, the call sends nothing more and raises :class:`Stopped`.

    Returns:
        The outcome of each job, in job order, and why the run stopped early (or None).

    Raises:
        Interrupted: Ctrl-C; it carries the outcomes so far.
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    outcomes: list[R | EdgeImpulseError | None] = [None] * len(jobs)
    # Set, it also keeps every request not yet written off the wire (see _transport).
    stop = StopEvent()
    breaker = Breaker(stop_after, throttled)

    def attempt(index: int, job: J) -> None:
        if stop.is_set():
            return
        try:
            outcomes[index] = send(job, stop)
        except Exception as error:  # recorded: one job must not lose all
            outcomes[index] = _as_outcome(error)

    done = 0
    in_flight: dict[Future[None], int] = {}

    def settle_one_or_more() -> None:
        nonlocal done
        finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in finished:
            index = in_flight.pop(future)
            future.result()  # attempt() records every Exception; this re-raises nothing else
            if on_outcome is not None:
                on_outcome(index, outcomes[index])
            done += 1
            _progress(on_progress, done, len(jobs))
            if breaker.record(outcomes[index]):
                stop.set()

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ei-usage")
    try:
        for index, job in enumerate(jobs):
            while len(in_flight) >= concurrency and not stop.is_set():
                settle_one_or_more()
            if stop.is_set():
                break
            in_flight[pool.submit(attempt, index, job)] = index
        while in_flight:
            settle_one_or_more()
    except KeyboardInterrupt:
        # Nothing more is sent; waits and reads in flight see the event and end promptly, and
        # the results already fetched go back to the caller with the interruption.
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise Interrupted(outcomes) from None
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return outcomes, breaker.reason
