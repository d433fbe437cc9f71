"""Client-wide rate control: one schedule of send slots, slowed by throttles, probed up on success.

Every request of a client (sync threads and async tasks alike) takes a numbered *ticket* from one
:class:`RateController` and sends when its ticket falls due. The controller only computes: it
never sleeps and never does I/O, so the same object serves ``time.sleep`` in threads and
``asyncio.sleep`` in tasks, and tests drive it with a fake clock.

The schedule
    Tickets fall due one every ``1 / rate`` seconds, in order: the virtual-scheduling form of the
    generic cell rate algorithm, i.e. a token bucket holding ``burst`` tokens. A due time is not
    fixed when the ticket is taken; it is recomputed from the current rate whenever its holder
    asks (:meth:`RateController.seconds_until`), and no single answer exceeds
    ``MAX_WAIT_SECONDS``. So 32 waiters get staggered slots instead of waking together, a rate
    cut spreads every waiting ticket out at once, a rate increase brings them forward within half
    a second, and a pause moves them all past its end, still in order and still spaced.

Pauses
    A throttle with ``Retry-After`` pauses the whole client: nothing falls due before the pause
    ends (a ``Retry-After`` beyond ``MAX_PAUSE_SECONDS`` is clamped; whether a wait is too long to
    bear is the caller's decision). The schedule stands still during a pause, so the tickets that
    were waiting resume one by one at the current rate, not all at once.

Adaptive rate (the default)
    The idea is the AWS SDKs' "adaptive" retry mode: a client-side token bucket whose fill rate is
    cut when the server throttles and probed upwards again on success, the probing shaped like
    TCP CUBIC (RFC 9438). No code or text is taken from either. The constants were tuned with
    the discrete-event simulation in ``tests/wrapper/test_ratelimit.py`` (32 workers, 50 ms
    latency, token-bucket servers from 0.2 to 200 req/s, limits that change mid-run).

    * Until the first throttle there is no limit, and taking a ticket is one attribute test: a
      server that never throttles costs nothing.
    * A throttle before the client's first other answer says nothing about its rate (there is
      none to measure yet: it may be the first request of a quiet client). It pauses for
      ``Retry-After`` and paces at ``PROBE_RATE`` (1 req/s) without cutting anything; the first
      answer that is not a throttle lifts that pace again. So a single 429 costs a quiet client
      about its ``Retry-After``, where cutting from the empty meter used to drop it to the
      ``MIN_RATE`` floor and then slow-start from there.
    * A throttle cuts the rate to ``BETA`` (0.9) times W, the rate that was throttled: the
      measured rate of answers that were not throttles (an exponentially weighted count, 1 s
      time constant, read as the last answer left it), or the schedule's rate if tickets were
      waiting for it and it was lower (the meter still remembered a faster past).
    * After the first throttle the rate doubles every second, and never falls below the measured
      rate, until the next throttle ("slow start": the first throttle ended an unlimited burst,
      which says little about the limit).
    * After later throttles the rate grows back along a cubic whose plateau is
      ``(1 - MARGIN) * W``: quickly at first, then flat just *under* W, then faster again, so it
      finds a raised limit yet spends little time where the last throttle happened. A
      token-bucket server throttles only once its bucket is drained, so W slightly exceeds the
      real limit; the 5 % margin puts the plateau below it. A throttle within ``CONFIRM_BAND`` of
      the previous W confirms the limit: W stays the lower of the two and the cubic becomes
      ``CONFIRM_FACTOR`` times flatter, up to ``CONFIRM_MAX`` times. A stable limit is thus probed
      more and more gently, because each overshoot costs a client-wide ``Retry-After`` (at least
      1 s from most servers) of sending nothing. CUBIC rather than AIMD: an additive increase is
      either too slow to recover from a cut or too fast near the limit; the cubic is neither.
    * The rate never exceeds ``max(W, HEADROOM x measured rate)`` (a client that does not use its
      allowance does not inflate it), never falls below ``MIN_RATE``, and never exceeds
      ``max_rate``.
    * A throttle of a request sent before the last cut (its ticket was due by then) says nothing
      about the new rate: it is counted and may extend the pause, but does not cut again.
      Without a ticket, a throttle during a pause or within ``HOLDOFF_SECONDS`` of the last cut
      is treated the same way.

Other pauses
    :meth:`RateController.pause` pauses the whole client without a throttle: a 503's
    ``Retry-After`` (the server is down for everyone, not only for that request). It neither
    counts as a throttle nor cuts the rate.

Refused waits
    A ``Retry-After`` the caller will not wait for (longer than its retry policy's limit: the call
    raises ``RateLimitError`` at once) is counted, but neither pauses the client nor cuts its
    rate: the other requests were not asked to wait that long, and pacing them slower would not
    shorten an hour's ban.

Running out of patience
    A server that answers 429 forever (``Retry-After: 0``, or none) would otherwise be retried
    at the floor rate for ever: ten tries of ten seconds per request. The controller keeps the
    current *throttle run*: the 429 answers since the last answer that was not one. Once a run
    spans ``THROTTLE_STOP_SECONDS`` or ``THROTTLE_STOP_ROUNDS`` rounds, :meth:`throttled_out`
    says so; the client then retries no 429 until an answer that is not a throttle, and a report
    stops, listing what it did not do. A *round* is a 429 to a request sent after the run's
    previous round came back, so the 32 answers to one burst of 32 requests are one round, not
    32. A run also ends after ``THROTTLE_STOP_SECONDS`` without any throttle (an idle client).
    A client that has never had an answer other than 429 has less patience: from its second
    round, its run is given up on once it spans ``FIRST_ANSWER_STOP_SECONDS``, counting the
    pause the server asks for (a server that has only ever refused it is more likely refusing it
    than busy). So it gives up within 30 s, or right after the one ``Retry-After`` it honours if
    that is longer.

``max_rate`` with ``adaptive=False`` is a plain token bucket at that rate (``burst`` tokens); with
``adaptive=True`` it is the ceiling of the adaptive rate, which starts there. ``adaptive=False``
without ``max_rate`` only honours pauses.

All state is a fixed set of numbers: nothing grows with the number of requests.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

UNSCHEDULED: Final = -1
"""The ticket handed out while there is no rate to keep: it only waits for a pause to end.

If the first throttle starts a schedule while such a ticket waits, the ticket still waits for
the pause alone, unspaced: at most the few requests that took a ticket in that same instant.
"""

MIN_RATE: Final = 0.1
"""The adaptive rate never falls below this many requests per second (6 a minute).

Not higher: against a limit under the floor every request is throttled at least once and rows
run out of retries (a 12 req/min limit failed 1 row in 5 with a floor of 0.5).
"""

MAX_RATE: Final = 1_000_000.0
"""The largest ``max_rate`` accepted, in requests per second."""

MAX_BURST: Final = 1000
"""The largest ``burst`` accepted."""

MAX_PAUSE_SECONDS: Final = 60.0
"""A longer ``Retry-After`` pauses the client this long (the retry policy's own limit)."""

MAX_WAIT_SECONDS: Final = 0.5
"""The longest wait :meth:`RateController.seconds_until` answers; the holder then asks again."""

HOLDOFF_SECONDS: Final = 1.0
"""A throttle without a ticket this soon after a cut is taken as the answer to an older request."""

BETA: Final = 0.9
"""The rate after a throttle, as a fraction of the rate that was throttled.

0.7 (TCP's and AWS's choice) took 2-4 % longer in the simulations: a rate limit is a hard
ceiling, not congestion that a deep cut helps to drain.
"""

MARGIN: Final = 0.05
"""How far below the throttled rate the cubic's plateau lies, as a fraction of it."""

GROWTH: Final = 0.01
"""The cubic's scale: a fraction of the throttled rate per second cubed.

Relative, not absolute like TCP's window constant, so a 2 req/s limit and a 200 req/s limit are
probed alike. From 0.9 W the plateau is reached after ``cbrt(0.05 / GROWTH)`` = 1.7 s.
"""

CUBIC_REQUESTS: Final = 10.0
"""The cubic's clock counts seconds, or the time W takes for this many requests if longer.

At a few requests per second, a second holds too few answers to probe on: without this, a
12 req/min limit was overshot (and every overshoot paused for its 5 s ``Retry-After``) every
few requests.
"""

CONFIRM_BAND: Final = 0.1
"""Two throttles within this fraction of each other's rate confirm a stable limit."""

CONFIRM_FACTOR: Final = 4.0
"""How much flatter each confirmation makes the cubic."""

CONFIRM_MAX: Final = 4
"""At most this many confirmations count: the flattest cubic reaches its plateau after 11 s."""

SLOW_START_DOUBLING_SECONDS: Final = 1.0
"""After the first throttle the rate doubles this often, until the next throttle."""

HEADROOM: Final = 2.0
"""The rate stays within this multiple of the measured rate (or the last throttled rate)."""

METER_SECONDS: Final = 1.0
"""Time constant of the measured rate, an exponentially weighted count of answers."""

THROTTLE_STOP_SECONDS: Final = 120.0
"""A throttle run this long (first to last 429, no other answer between) exhausts the budget.

Twice the longest ``Retry-After`` ei-usage waits for, so a server that asks for a full minute
twice is still given a third chance.
"""

PROBE_RATE: Final = 1.0
"""The pace after a throttle, in requests per second, while the client has had no other answer.

Without an answer there is no measured rate to cut from: one request a second spaces retries to
a server that sends no ``Retry-After`` (or 0), without the ``MIN_RATE`` floor's 10 s a try.
"""

FIRST_ANSWER_STOP_SECONDS: Final = 30.0
"""A throttle run this long, with its pause, exhausts the budget of a client never answered.

Such a client (every answer so far a 429) gives up within this time, or right after its first
round's ``Retry-After`` if that is longer; one that has had other answers keeps the full
``THROTTLE_STOP_SECONDS``.
"""

THROTTLE_STOP_ROUNDS: Final = 12
"""A throttle run of this many rounds exhausts the budget (see the module docstring).

One more than the tries a single request gets against 429s (the client's default
``max_throttle_retries`` of 10, plus the first), so a lone call keeps all of them; in a report
the next request's first 429 then stops it. A client with more retries passes a larger
``stop_rounds``. Against a server that answers 429 with ``Retry-After: 0`` that is at most
about 40 requests and 40 virtual seconds (``tests/wrapper/test_throttle_budget.py``).
"""

# 2 ** 60 times any rate is beyond every bound; capping the exponent avoids OverflowError.
_MAX_DOUBLINGS: Final = 60.0


@attrs.frozen
class RateStats:
    """A snapshot of a :class:`RateController`.

    Attributes:
        rate_per_second: the rate tickets fall due at; None when there is no limit.
        measured_per_second: recent answers that were not throttles, per second
            (exponentially weighted, ``METER_SECONDS`` time constant).
        throttles: throttles reported (``on_throttle`` calls).
        rate_cuts: the throttles that cut the rate (the others were stale, or not adaptive).
        pause_remaining_seconds: how long the current pause lasts still; 0.0 when none.
        waiting: tickets taken and not yet due.
        throttle_run: 429 answers since the last answer that was not one (0: none).
        throttle_run_seconds: from the first to the last of those answers.
    """

    rate_per_second: float | None
    measured_per_second: float
    throttles: int
    rate_cuts: int
    pause_remaining_seconds: float
    waiting: int
    throttle_run: int = 0
    throttle_run_seconds: float = 0.0


def _check_max_rate(max_rate: float | None) -> float | None:
    if max_rate is None:
        return None
    if isinstance(max_rate, bool) or not isinstance(max_rate, int | float):
        raise TypeError(f"max_rate must be a number or None, got {type(max_rate).__name__}")
    if not 0 < max_rate <= MAX_RATE:  # also refuses NaN
        raise ValueError(
            f"max_rate must be > 0 and <= {MAX_RATE:g} requests per second, got {max_rate!r}"
        )
    return float(max_rate)


def _pause_seconds(retry_after: float | timedelta | None) -> float | None:
    """Return a ``Retry-After`` as seconds in ``[0, MAX_PAUSE_SECONDS]``; None if there is none."""
    if retry_after is None:
        return None
    if isinstance(retry_after, timedelta):
        seconds = retry_after.total_seconds()
    elif isinstance(retry_after, int | float) and not isinstance(retry_after, bool):
        seconds = float(retry_after)
    else:
        raise TypeError(
            f"retry_after must be seconds, a timedelta or None, got {type(retry_after).__name__}"
        )
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_PAUSE_SECONDS)


class RateController:
    """The send schedule shared by every request of one client.

    A request path uses it like this (async: ``await asyncio.sleep``)::

        ticket = controller.ticket()
        while (seconds := controller.seconds_until(ticket)) > 0:
            time.sleep(seconds)
        response = send()
        if response.status_code == 429:
            controller.on_throttle(retry_after_seconds, ticket=ticket)
            ...  # retry: take a new ticket; the pause already covers Retry-After
        else:
            controller.on_success()

    Every method is thread-safe and non-blocking: a lock is held for a few arithmetic operations,
    never while waiting. Without a limit (adaptive mode before any throttle, no ``max_rate``),
    :meth:`ticket` and :meth:`seconds_until` read one attribute and return.

    Args:
        max_rate: the highest rate to send at, in requests per second (a known quota); None for
            no ceiling.
        adaptive: adapt the rate to throttles (see the module docstring). False keeps the rate
            at ``max_rate`` (or unlimited without it) and only honours pauses.
        clock: monotonic seconds; tests pass a fake one.
        burst: tickets that may fall due at once after an idle moment. Keep 1 unless the server's
            bucket is known to hold more: tickets sent back to back into a smaller bucket are
            throttled at every resume.
        stop_rounds: the rounds of a throttle run that exhaust the client's patience
            (``THROTTLE_STOP_ROUNDS``); more for a client that retries a 429 more often.

    Raises:
        TypeError: ``max_rate``, ``burst`` or ``stop_rounds`` of the wrong type.
        ValueError: ``max_rate``, ``burst`` or ``stop_rounds`` out of range.
    """

    def __init__(
        self,
        *,
        max_rate: float | None = None,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
        burst: int = 1,
        stop_rounds: int = THROTTLE_STOP_ROUNDS,
    ) -> None:
        if isinstance(burst, bool) or not isinstance(burst, int):
            raise TypeError(f"burst must be an int, got {type(burst).__name__}")
        if not 1 <= burst <= MAX_BURST:
            raise ValueError(f"burst must be between 1 and {MAX_BURST}, got {burst}")
        if isinstance(stop_rounds, bool) or not isinstance(stop_rounds, int):
            raise TypeError(f"stop_rounds must be an int, got {type(stop_rounds).__name__}")
        if stop_rounds < 1:
            raise ValueError(f"stop_rounds must be at least 1, got {stop_rounds}")
        self._stop_rounds = stop_rounds
        self._max_rate = _check_max_rate(max_rate)
        self._adaptive = bool(adaptive)
        self._clock = clock
        self._burst = burst
        self._lock = threading.Lock()
        now = clock()
        # The schedule: ticket n falls due at base_time + (n - base_ticket) * interval, and never
        # before pause_until. interval 0.0: no rate (tickets are UNSCHEDULED).
        self._rate = self._max_rate
        self._interval = 0.0 if self._max_rate is None else 1.0 / self._max_rate
        self._next_ticket = 0
        self._base_ticket = float(burst - 1)  # the bucket starts full
        self._base_time = now
        self._free = self._max_rate is None  # the fast path: no rate and no pause
        self._pause_until = now  # nothing falls due before this
        # The meter: an exponentially weighted count of answers that were not throttles.
        self._meter = 0.0
        self._meter_at = now
        self._meter_top = 0.0  # the meter as the last answer left it, before any decay
        # Adaptation. w_max: the rate the last cut took as throttled (None before any cut). The
        # growth curve's clock starts when sending resumes after that cut (growth_from).
        self._w_max: float | None = None
        self._cut_at = now
        self._cut_position = -1.0
        self._growth_from = now
        self._growth = GROWTH
        self._plateau_delay = 0.0
        self._confirmations = 0
        self._slow_start = False
        self._start_rate = 0.0
        self._throttles = 0
        self._cuts = 0
        # Whether any answer was not a throttle; until then a throttle paces at PROBE_RATE
        # (probing) instead of cutting a rate nothing measured.
        self._answered = False
        self._probing = False
        # The throttle run (module docstring, "Running out of patience").
        self._run = 0
        self._run_rounds = 0
        self._run_start = now
        self._run_last = now
        self._run_round_at = now

    # ---- the schedule --------------------------------------------------------------------------

    def ticket(self) -> int:
        """Take the next place in the send schedule.

        Returns:
            The ticket to pass to :meth:`seconds_until` and :meth:`on_throttle`; ``UNSCHEDULED``
            when there is no rate to keep. A ticket whose request is never sent (its caller gave
            up) leaves one slot unused, nothing more.
        """
        if self._free:
            return UNSCHEDULED
        now = self._clock()
        with self._lock:
            if self._interval == 0.0:
                self._free = now >= self._pause_until
                return UNSCHEDULED
            ticket = self._next_ticket
            self._next_ticket = ticket + 1
            # An idle schedule saves up at most `burst` slots: its position may not run further
            # ahead of the tickets handed out.
            spare = float(ticket + self._burst - 1)
            if self._position(now) > spare:
                self._base_ticket = spare
                self._base_time = max(now, self._base_time)
            return ticket

    def seconds_until(self, ticket: int) -> float:
        """Return how long the holder of ``ticket`` must wait still before sending.

        Ask right after taking the ticket and again after every sleep: the answer follows rate
        changes and pauses that happened meanwhile, and is never more than
        ``MAX_WAIT_SECONDS``, so a holder also learns early when the rate rises.

        Args:
            ticket: a ticket from this controller's :meth:`ticket`.

        Returns:
            Seconds to sleep before asking again; 0.0 means send now.

        Raises:
            ValueError: a ticket this controller did not hand out (checked while a schedule
                is kept).
        """
        if self._free:
            return 0.0
        now = self._clock()
        with self._lock:
            wait = self._due(ticket, now) - now
        if wait <= 0.0:
            return 0.0
        return min(wait, MAX_WAIT_SECONDS)

    # ---- what the server answered ---------------------------------------------------------------

    def on_success(self) -> None:
        """Report an answer that was not a throttle (any status but 429)."""
        now = self._clock()
        with self._lock:
            self._run = 0  # the throttle run, if any, is over
            self._answered = True
            meter = self._measure(now) + 1.0 / METER_SECONDS
            self._meter = self._meter_top = meter
            if self._probing:
                self._lift_probe(now)
            w_max = self._w_max
            if w_max is None or not self._adaptive:
                return
            elapsed = max(0.0, now - self._growth_from)
            if self._slow_start:
                doublings = min(elapsed / SLOW_START_DOUBLING_SECONDS, _MAX_DOUBLINGS)
                # Never below what gets through: the first throttle may come before any answer.
                target = max(self._start_rate * 2.0**doublings, meter)
            else:
                elapsed /= max(1.0, CUBIC_REQUESTS / w_max)
                x = elapsed - self._plateau_delay
                target = w_max * (1.0 - MARGIN + self._growth * x * x * x)
            self._set_rate(now, self._bounded(min(target, max(w_max, HEADROOM * meter))))

    def on_throttle(
        self,
        retry_after: float | timedelta | None,
        *,
        ticket: int | None = None,
        sent_at: float | None = None,
        refused: bool = False,
    ) -> None:
        """Report a throttle (a 429): pause the whole client for ``retry_after``, cut the rate.

        Args:
            retry_after: the server's ``Retry-After``, in seconds or as a timedelta; None when it
                sent none. Nothing falls due before now plus that, clamped to
                ``[0, MAX_PAUSE_SECONDS]`` (NaN counts as none).
            ticket: the throttled request's ticket. A request sent before the last cut says
                nothing about the new rate and does not cut again; without a ticket, time
                decides (see the module docstring).
            sent_at: when the throttled request was sent (this controller's clock); it decides
                whether the answer starts a new round of the throttle run. None: it does.
            refused: the caller will not wait for ``retry_after`` (it raises instead): the
                throttle is counted, but neither pauses the client nor cuts the rate.

        Raises:
            TypeError: ``retry_after`` of the wrong type.
        """
        seconds = _pause_seconds(retry_after)
        now = self._clock()
        with self._lock:
            self._throttles += 1
            self._extend_run(now, sent_at)
            if refused:
                return
            if self._adaptive and not self._answered:
                # No rate was measured yet: nothing to cut. Pause, and pace at PROBE_RATE.
                if seconds is not None:
                    self._pause(now, now + seconds)
                if not self._probing:
                    self._probing = True
                    self._cuts += 1
                    self._set_rate(now, self._bounded(PROBE_RATE))
                return
            if self._w_max is None:
                stale = False
            elif ticket is not None and ticket >= 0:
                stale = ticket <= self._cut_position
            else:
                stale = now < self._pause_until or now < self._cut_at + HOLDOFF_SECONDS
            # Taken before the pause freezes the schedule: were tickets waiting for the rate?
            position = self._position(now) if self._interval > 0.0 else -1.0
            saturated = 0.0 <= position < self._next_ticket - 1
            if seconds is not None:
                self._pause(now, now + seconds)
            if self._adaptive and not stale:
                self._cut(now, saturated, position)

    def pause(self, retry_after: float | timedelta | None) -> None:
        """Pause the whole client for ``retry_after`` without a throttle (a 503's Retry-After).

        Nothing falls due before now plus ``retry_after`` (clamped like a throttle's); the rate
        is not cut and the throttle run is not extended. The caller decides, as for a throttle,
        whether the wait is too long to honour at all (then it does not call this).

        Raises:
            TypeError: ``retry_after`` of the wrong type.
        """
        seconds = _pause_seconds(retry_after)
        if not seconds:
            return
        now = self._clock()
        with self._lock:
            self._pause(now, now + seconds)

    def throttled_out(self) -> str | None:
        """Return why the server's throttling has exhausted the client's patience, or None.

        True once the current throttle run spans ``THROTTLE_STOP_SECONDS`` or the rounds budget
        (``THROTTLE_STOP_ROUNDS``, or the controller's ``stop_rounds``), until an answer that is
        not a 429 (or an idle spell as long) ends the run. For a client that has never had
        another answer, once the run, with the pause it asked for, spans
        ``FIRST_ANSWER_STOP_SECONDS``.
        """
        with self._lock:
            run, rounds = self._run, self._run_rounds
            seconds = self._run_last - self._run_start
            answered = self._answered
            with_pause = max(self._run_last, self._pause_until) - self._run_start
        if run == 0:
            return None
        if rounds < self._stop_rounds:
            if answered and seconds < THROTTLE_STOP_SECONDS:
                return None
            # The first round's Retry-After is honoured in full, as for any quiet client.
            if not answered and (rounds < 2 or with_pause < FIRST_ANSWER_STOP_SECONDS):
                return None
        if not answered:
            return (
                f"the server kept answering 429 (too many requests): {run} answers in a row over "
                f"{seconds:.0f}s, and no other answer since this client started"
            )
        return (
            f"the server kept answering 429 (too many requests): {run} answers in a row over "
            f"{seconds:.0f}s, none successful"
        )

    def stats(self) -> RateStats:
        """Return a snapshot: the rate, the measured rate, throttles, the pause, the waiters."""
        now = self._clock()
        with self._lock:
            measured = self._measure(now)
            waiting = 0
            if self._interval > 0.0:
                waiting = max(0, math.ceil(self._next_ticket - 1 - self._position(now)))
            return RateStats(
                rate_per_second=self._rate,
                measured_per_second=measured,
                throttles=self._throttles,
                rate_cuts=self._cuts,
                pause_remaining_seconds=max(0.0, self._pause_until - now),
                waiting=waiting,
                throttle_run=self._run,
                throttle_run_seconds=self._run_last - self._run_start if self._run else 0.0,
            )

    # ---- internals, called with the lock held -------------------------------------------------

    def _position(self, now: float) -> float:
        """Return how far the schedule has let tickets through by ``now`` (still while paused)."""
        if now <= self._base_time or self._interval == 0.0:
            return self._base_ticket
        return self._base_ticket + (now - self._base_time) / self._interval

    def _due(self, ticket: int, now: float) -> float:
        if not UNSCHEDULED <= ticket < self._next_ticket:
            raise ValueError(f"ticket {ticket} was not handed out by this controller")
        if ticket == UNSCHEDULED or self._interval == 0.0:
            if self._interval == 0.0 and now >= self._pause_until:
                self._free = True
            return self._pause_until
        due = self._base_time + (ticket - self._base_ticket) * self._interval
        return max(due, self._pause_until)

    def _extend_run(self, now: float, sent_at: float | None) -> None:
        """Count a throttle into the current throttle run, or start a new run with it."""
        if self._run == 0 or now - self._run_last > THROTTLE_STOP_SECONDS:
            self._run = self._run_rounds = 0
            self._run_start = now
        if self._run_rounds == 0 or sent_at is None or sent_at >= self._run_round_at:
            self._run_rounds += 1
            self._run_round_at = now
        self._run += 1
        self._run_last = now

    def _measure(self, now: float) -> float:
        """Decay the meter to ``now`` and return it, in answers per second."""
        elapsed = now - self._meter_at
        if elapsed > 0.0:
            self._meter *= math.exp(-elapsed / METER_SECONDS)
            self._meter_at = now
        return self._meter

    def _lift_probe(self, now: float) -> None:
        """End the probing pace: back to ``max_rate``, or to no limit (pauses still hold)."""
        self._probing = False
        if self._max_rate is not None:
            self._set_rate(now, self._max_rate)
            return
        # What waits now waits for the pause alone (see _due); ticket() finds the fast path.
        self._rate = None
        self._interval = 0.0
        self._free = now >= self._pause_until

    def _bounded(self, rate: float) -> float:
        rate = max(MIN_RATE, rate)
        return rate if self._max_rate is None else min(rate, self._max_rate)

    def _set_rate(self, now: float, rate: float) -> None:
        if rate == self._rate:
            return
        if self._interval == 0.0:
            # Leaving "no limit": a schedule starts, its bucket full, after any pause.
            self._base_ticket = float(self._next_ticket + self._burst - 1)
            self._base_time = max(now, self._pause_until)
        else:
            # Rebase: what was let through stays let through; what waits is spaced at the new
            # rate from now (or from the end of the pause).
            self._base_ticket = self._position(now)
            self._base_time = max(now, self._base_time)
        self._rate = rate
        self._interval = 1.0 / rate
        self._free = False

    def _pause(self, now: float, until: float) -> None:
        if until <= self._pause_until:
            return
        self._pause_until = until
        if self._interval > 0.0:
            # Stand still: what was not due yet falls due after the pause, in order.
            self._base_ticket = self._position(now)
            self._base_time = max(self._base_time, until)
        if self._growth_from > now:  # growth after the last cut has not begun: start later
            self._growth_from = until
        self._free = False

    def _cut(self, now: float, saturated: bool, position: float) -> None:
        # The meter as the last answer left it: decayed to now, it would read low by the gap
        # that this throttle stands in, a large error at a few requests per second.
        throttled = self._meter_top
        if saturated and self._rate is not None:
            throttled = min(throttled, self._rate)
        previous = self._w_max
        throttled = self._bounded(throttled)
        if (
            previous is not None
            and not self._slow_start
            and abs(throttled - previous) <= CONFIRM_BAND * previous
        ):
            self._confirmations = min(self._confirmations + 1, CONFIRM_MAX)
            throttled = min(throttled, previous)
        else:
            self._confirmations = 0
        self._growth = GROWTH / CONFIRM_FACTOR**self._confirmations
        # Time for the cubic to climb from BETA * W to its plateau (1 - MARGIN) * W.
        self._plateau_delay = math.cbrt((1.0 - MARGIN - BETA) / self._growth)
        self._slow_start = previous is None
        self._w_max = throttled
        self._cut_at = now
        self._cut_position = position
        self._growth_from = max(now, self._pause_until)
        self._cuts += 1
        self._start_rate = self._bounded(BETA * throttled)
        self._set_rate(now, self._start_rate)
