"""Feed scheduling policy: when to poll a feed next, as a pure function of its state.

No clock, no randomness, no I/O: the caller passes ``now`` and ``random_fraction``, so every
rule is checked by a table of rows in tests/test_schedule.py. Reasons: docs/choices.md.
"""

import email.utils
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HARD = "hard"
SOFT = "soft"
TEMPORARY = "temporary"

# Backoff weight per failure class. A hard failure (404, 401, certificate) needs a human, so back
# off fastest; soft ones (bad body, DNS) are often fixed by the publisher; temporary ones
# (timeouts, 5xx, 429) usually pass within minutes, so a quarter weight keeps retrying them soon.
_WEIGHT = {HARD: 1.0, SOFT: 0.5, TEMPORARY: 0.25}
# 408 Request Timeout, 425 Too Early and 429 Too Many Requests say "try later", not "go away".
_TEMPORARY_4XX = frozenset({408, 425, 429})
_SOFT_KINDS = frozenset({"malformed", "too_large", "too_many_redirects", "dns_error"})
_TEMPORARY_KINDS = frozenset({"timeout", "connect_error", "aborted"})
_SUCCESS_KINDS = frozenset({"ok", "not_modified"})
# Adaptive factor bounds: at most twice as often as configured, at most four times as rarely,
# so a quiet feed that wakes up is noticed within 4 intervals (2 h at the default 30 min).
_FACTOR_MIN, _FACTOR_MAX = 0.5, 4.0
_SPEED_UP, _SLOW_DOWN = 0.75, 1.25  # gentle steps: one unusual poll must not swing the interval


@dataclass(frozen=True)
class Policy:
    """Numbers of the scheduling policy, filled from settings."""

    interval_minutes: float = 30.0  # the feed's configured interval: news sites post hourly-ish
    min_interval_minutes: float = 5.0  # politeness floor: never poll a feed more often than this
    max_backoff_minutes: float = 1440.0  # cap of any delay: a day, so any feed recovers by itself
    retry_after_cap_minutes: float = 360.0  # a server asking for days must not silence a feed
    max_ttl_minutes: float = 720.0  # cap of RSS <ttl> / max-age: a week-long ttl hides news
    jitter_fraction: float = 0.1  # +/- share of the delay: spreads feeds that failed together
    adaptive: bool = True  # adapt the interval to the share of new items


@dataclass(frozen=True)
class FeedState:
    """What the state database keeps per feed, as far as scheduling needs it."""

    consecutive_failures: int = 0
    failure_class: str | None = None
    interval_factor: float = 1.0  # adaptive multiplier, within [0.5, 4.0]
    disabled_reason: str | None = None


@dataclass(frozen=True)
class PollOutcome:
    """What one poll ended with (``kind`` is one of the kinds :func:`classify` knows)."""

    kind: str
    status: int | None = None
    retry_after_seconds: float | None = None  # already parsed (seconds from now), None if absent
    ttl_minutes: float | None = None  # RSS <ttl>, if any
    max_age_seconds: float | None = None  # Cache-Control max-age, if any
    items_total: int = 0
    items_new: int = 0


@dataclass(frozen=True)
class Decision:
    """The new scheduling fields of the feed after a poll; ``reason`` is a snake_case log word."""

    next_poll_at: datetime
    consecutive_failures: int
    failure_class: str | None
    interval_factor: float
    disabled_reason: str | None
    reason: str


def classify(outcome: PollOutcome) -> str | None:
    """Return the failure class of ``outcome`` (HARD, SOFT, TEMPORARY), or None for success.

    Raises ValueError for an unknown kind: a typo in a caller must fail loudly in its tests.
    """
    kind = outcome.kind
    if kind in _SUCCESS_KINDS:
        return None
    if kind == "tls_error":
        return HARD  # a bad certificate does not fix itself; a human must look
    if kind in _SOFT_KINDS:
        return SOFT  # dns_error: a dead domain or our own DNS outage, we cannot tell which
    if kind in _TEMPORARY_KINDS:
        return TEMPORARY
    if kind == "http_error":
        status = outcome.status
        if status is not None and 400 <= status < 500 and status not in _TEMPORARY_4XX:
            return HARD  # 401, 403, 404, 410, 451...: the request itself is refused
        if status is not None and (status >= 500 or status in _TEMPORARY_4XX):
            return TEMPORARY
        return SOFT  # no status or an odd 1xx/2xx/3xx: something strange, not an outage
    raise ValueError(f"unknown poll outcome kind: {kind!r}")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Parse a Retry-After header into seconds from ``now``.

    Accepts delta-seconds or an HTTP-date; a time in the past gives 0; absent or garbage gives None.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # "-0000" means UTC with unknown source zone
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _jitter(delay: float, policy: Policy, random_fraction: float, upward_only: bool) -> float:
    # Jitter spreads feeds that failed or were added together, so they do not hit the network
    # (or one host) in the same second forever. Upward-only where a server named a time.
    spread = 2.0 * random_fraction - 1.0  # in [-1, 1); 0 for random_fraction 0.5
    if upward_only:
        spread = abs(spread)
    return delay * policy.jitter_fraction * spread


def next_poll_at(
    state: FeedState,
    outcome: PollOutcome,
    now: datetime,
    policy: Policy,
    random_fraction: float = 0.5,
) -> Decision:
    """Decide the feed's new scheduling fields after one poll ended with ``outcome``.

    ``now`` must be timezone-aware (the result is UTC); ``random_fraction`` in [0, 1] is the
    caller's random.random(), so this stays pure. Rules and numbers: docs/choices.md.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not 0.0 <= random_fraction <= 1.0:
        raise ValueError("random_fraction must be within [0, 1]")
    now = now.astimezone(UTC)
    failure_class = classify(outcome)
    factor = min(max(state.interval_factor, _FACTOR_MIN), _FACTOR_MAX)
    upward_only = False

    if outcome.kind == "aborted":
        # Our own shutdown interrupted the poll: not the feed's fault, so nothing changes and it
        # is due again at once (i.e. first thing after the restart).
        keep = (state.consecutive_failures, state.failure_class, factor, state.disabled_reason)
        return Decision(now, *keep, "aborted")

    if failure_class is None:
        failures, disabled = 0, None  # any success re-enables, even a 410'd feed that came back
        reason = outcome.kind
        if policy.adaptive and (outcome.kind == "not_modified" or outcome.items_total > 0):
            share = outcome.items_new / outcome.items_total if outcome.kind == "ok" else 0.0
            if share >= 0.5:  # half or more unseen: we may be missing items between polls
                factor *= _SPEED_UP
            elif share == 0:  # nothing new: poll less
                factor *= _SLOW_DOWN
            factor = min(max(factor, _FACTOR_MIN), _FACTOR_MAX)
        delay = policy.interval_minutes * factor
        # The publisher's own hint: at least what it asks, never more than max_ttl (a feed
        # claiming a week-long ttl would otherwise hide a week of news).
        hint = max(outcome.ttl_minutes or 0.0, (outcome.max_age_seconds or 0.0) / 60.0)
        hint = min(hint, policy.max_ttl_minutes)
        if hint > delay:
            delay, reason = hint, "ttl"
    else:
        failures = state.consecutive_failures + 1
        disabled = state.disabled_reason  # a disabled feed stays disabled until a success
        reason = f"backoff_{failure_class}"
        # Capped *linear* backoff: exponential reaches the day cap after a handful of failures,
        # making a feed with a weekend outage go dark for days; linear keeps checking.
        delay = policy.interval_minutes * (1.0 + _WEIGHT[failure_class] * failures)
        if outcome.kind == "http_error" and outcome.status == 410:
            delay, disabled, reason = policy.max_backoff_minutes, "gone_410", "disabled_gone"
        elif outcome.retry_after_seconds is not None:
            # Honour Retry-After: never earlier than asked (up to the cap, against a server asking
            # for weeks), but never *earlier* than our backoff either: a rate-limited server must
            # not be polled more often than a healthy one.
            asked = min(
                max(outcome.retry_after_seconds, 0.0) / 60.0, policy.retry_after_cap_minutes
            )
            upward_only = True
            if asked > delay:
                delay, reason = asked, "retry_after"
        upward_only = upward_only or outcome.status == 429

    delay = min(max(delay, policy.min_interval_minutes), policy.max_backoff_minutes)
    # Jitter may exceed max_backoff (spreading feeds that all sit at the cap) but not go below
    # min_interval, which is a promise to the publishers.
    delay = max(
        delay + _jitter(delay, policy, random_fraction, upward_only), policy.min_interval_minutes
    )
    return Decision(
        now + timedelta(minutes=delay), failures, failure_class, factor, disabled, reason
    )
