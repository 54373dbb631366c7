"""Table tests of the feed scheduling policy (monitor/schedule.py)."""

import random
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from monitor.schedule import (
    HARD,
    SOFT,
    TEMPORARY,
    FeedState,
    Policy,
    PollOutcome,
    classify,
    next_poll_at,
    parse_retry_after,
)

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
DEFAULT = Policy()
FRESH = FeedState()
GONE = FeedState(consecutive_failures=5, failure_class=HARD, disabled_reason="gone_410")


def ok(total=10, new=2, **kw):
    """A 200 with a share of new items (2/10) that leaves the adaptive factor alone."""
    return PollOutcome("ok", status=200, items_total=total, items_new=new, **kw)


def http(status, retry_after=None):
    return PollOutcome("http_error", status=status, retry_after_seconds=retry_after)


def row(id_, outcome, minutes, failures, cls, reason, *, state=FRESH, policy=DEFAULT, **more):
    """One table row; ``more`` may set disabled (default: as the state) and factor (1.0)."""
    disabled = more.get("disabled", state.disabled_reason)
    factor = more.get("factor", 1.0)
    return pytest.param(
        state, outcome, policy, minutes, failures, cls, disabled, factor, reason, id=id_
    )


def failed(n, cls=HARD, **kw):
    return FeedState(consecutive_failures=n, failure_class=cls, **kw)


# Default policy: interval 30 min, min 5, cap 1440, Retry-After cap 360, ttl cap 720.
# Failure delay = 30 * (1 + weight * n), weight hard 1.0 / soft 0.5 / temporary 0.25.
# fmt: off
TABLE = [
    # --- success and the adaptive interval
    row("200_ok", ok(), 30, 0, None, "ok"),
    row("200_empty_feed_keeps_factor", ok(0, 0), 30, 0, None, "ok"),
    row("200_many_new_speeds_up", ok(10, 6), 22.5, 0, None, "ok", factor=0.75),
    row("200_half_new_speeds_up", ok(10, 5), 22.5, 0, None, "ok", factor=0.75),
    row("200_all_duplicates_slows_down", ok(10, 0), 37.5, 0, None, "ok", factor=1.25),
    row("factor_clamps_at_0.5", ok(10, 10), 15, 0, None, "ok",
        state=FeedState(interval_factor=0.5), factor=0.5),
    row("factor_clamps_at_4", ok(10, 0), 120, 0, None, "ok",
        state=FeedState(interval_factor=4.0), factor=4.0),
    row("not_adaptive_ignores_duplicates", ok(10, 0), 30, 0, None, "ok",
        policy=Policy(adaptive=False)),
    row("304_not_modified", PollOutcome("not_modified", 304), 37.5, 0, None, "not_modified",
        factor=1.25),
    row("min_interval_floor", ok(), 5, 0, None, "ok", policy=Policy(interval_minutes=2)),
    # --- publisher hints: RSS <ttl> and Cache-Control max-age
    row("rss_ttl_90", ok(ttl_minutes=90), 90, 0, None, "ttl"),
    row("rss_ttl_10000_capped", ok(ttl_minutes=10_000), 720, 0, None, "ttl"),
    row("rss_ttl_shorter_than_interval", ok(ttl_minutes=10), 30, 0, None, "ok"),
    row("cache_control_max_age_3600", ok(max_age_seconds=3600), 60, 0, None, "ttl"),
    row("max_age_and_ttl_longest_wins", ok(ttl_minutes=45, max_age_seconds=7200), 120, 0, None,
        "ttl"),
    # --- hard failures
    row("404_first", http(404), 60, 1, HARD, "backoff_hard"),
    row("404_fifth", http(404), 180, 5, HARD, "backoff_hard", state=failed(4)),
    row("401", http(401), 60, 1, HARD, "backoff_hard"),
    row("451", http(451), 60, 1, HARD, "backoff_hard"),
    row("tls_error", PollOutcome("tls_error"), 60, 1, HARD, "backoff_hard"),
    row("410_disables", http(410), 1440, 1, HARD, "disabled_gone", disabled="gone_410"),
    row("404_with_retry_after_2h", http(404, 7200), 120, 1, HARD, "retry_after"),
    # --- temporary failures and Retry-After
    row("429_retry_after_120s", http(429, 120), 37.5, 1, TEMPORARY, "backoff_temporary"),
    row("429_retry_after_3_days_capped", http(429, 3 * 86400), 360, 1, TEMPORARY, "retry_after"),
    row("429_no_retry_after", http(429), 37.5, 1, TEMPORARY, "backoff_temporary"),
    row("503_retry_after_1h", http(503, 3600), 60, 1, TEMPORARY, "retry_after"),
    row("retry_after_below_min_interval", http(503, 240), 5, 1, TEMPORARY, "retry_after",
        policy=Policy(interval_minutes=2)),
    row("500", http(500), 37.5, 1, TEMPORARY, "backoff_temporary"),
    row("408", http(408), 37.5, 1, TEMPORARY, "backoff_temporary"),
    row("timeout", PollOutcome("timeout"), 37.5, 1, TEMPORARY, "backoff_temporary"),
    row("connect_error", PollOutcome("connect_error"), 37.5, 1, TEMPORARY, "backoff_temporary"),
    # --- soft failures
    row("dns_error", PollOutcome("dns_error"), 45, 1, SOFT, "backoff_soft"),
    row("dns_error_fifth", PollOutcome("dns_error"), 105, 5, SOFT, "backoff_soft",
        state=failed(4, SOFT)),
    row("malformed_body", PollOutcome("malformed", 200), 45, 1, SOFT, "backoff_soft"),
    row("too_large", PollOutcome("too_large"), 45, 1, SOFT, "backoff_soft"),
    row("too_many_redirects", PollOutcome("too_many_redirects"), 45, 1, SOFT, "backoff_soft"),
    row("http_error_without_status", http(None), 45, 1, SOFT, "backoff_soft"),
    # --- the cap, never disabling, recovery
    row("cap_after_many_hard", http(404), 1440, 101, HARD, "backoff_hard", state=failed(100)),
    row("cap_after_many_temporary", http(500), 1440, 1001, TEMPORARY, "backoff_temporary",
        state=failed(1000, TEMPORARY)),
    row("recovery_after_failures", ok(), 30, 0, None, "ok", state=failed(7)),
    row("aborted_changes_nothing", PollOutcome("aborted"), 0, 3, TEMPORARY, "aborted",
        state=failed(3, TEMPORARY)),
    row("aborted_on_fresh_feed", PollOutcome("aborted"), 0, 0, None, "aborted"),
    row("success_reenables_disabled", ok(), 30, 0, None, "ok", state=GONE, disabled=None),
    row("304_reenables_disabled", PollOutcome("not_modified", 304), 37.5, 0, None,
        "not_modified", state=GONE, disabled=None, factor=1.25),
    row("failure_keeps_disabled", http(404), 210, 6, HARD, "backoff_hard", state=GONE),
    row("aborted_keeps_disabled", PollOutcome("aborted"), 0, 5, HARD, "aborted", state=GONE),
    row("failure_keeps_factor", http(500), 37.5, 1, TEMPORARY, "backoff_temporary",
        state=FeedState(interval_factor=2.0), factor=2.0),
]
# fmt: on


@pytest.mark.parametrize("state,outcome,policy,minutes,failures,cls,disabled,factor,reason", TABLE)
def test_schedule_table(state, outcome, policy, minutes, failures, cls, disabled, factor, reason):
    d = next_poll_at(state, outcome, NOW, policy, random_fraction=0.5)
    assert d.next_poll_at - NOW == timedelta(minutes=minutes)
    assert d.next_poll_at.tzinfo == UTC
    assert d.consecutive_failures == failures
    assert d.failure_class == cls
    assert d.disabled_reason == disabled
    assert d.interval_factor == pytest.approx(factor)
    assert d.reason == reason


def _minutes(decision):
    return (decision.next_poll_at - NOW) / timedelta(minutes=1)


@pytest.mark.parametrize(
    "state,outcome",
    [(FRESH, ok()), (FRESH, http(500)), (FRESH, http(404)), (failed(100), http(404))],
    ids=["ok", "500", "404", "at_cap"],
)
def test_jitter_bounds(state, outcome):
    base = _minutes(next_poll_at(state, outcome, NOW, DEFAULT, 0.5))
    low = _minutes(next_poll_at(state, outcome, NOW, DEFAULT, 0.0))
    high = _minutes(next_poll_at(state, outcome, NOW, DEFAULT, 0.999))
    assert low == pytest.approx(base * 0.9)
    assert base < high <= base * 1.1


@pytest.mark.parametrize("retry_after", [120, 3600, 3 * 86400])
def test_429_jitter_never_earlier_than_retry_after(retry_after):
    asked = min(retry_after / 60, DEFAULT.retry_after_cap_minutes)
    for i in range(100):
        d = next_poll_at(FRESH, http(429, retry_after), NOW, DEFAULT, i / 100)
        assert asked <= _minutes(d) <= max(asked, 37.5) * 1.1 + 1e-9


def test_parse_retry_after():
    in_an_hour = format_datetime(NOW + timedelta(hours=1), usegmt=True)
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after(" 120 ", NOW) == 120
    assert parse_retry_after(in_an_hour, NOW) == 3600
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW) == 0
    assert parse_retry_after("-5", NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("nan", NOW) is None
    assert parse_retry_after("", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_classify_edges():
    assert classify(PollOutcome("aborted")) == TEMPORARY
    assert classify(http(425)) == TEMPORARY
    assert classify(PollOutcome("ok", 200)) is None
    with pytest.raises(ValueError):
        classify(PollOutcome("exploded"))


def test_now_must_be_aware_and_result_is_utc():
    with pytest.raises(ValueError):
        next_poll_at(FRESH, ok(), NOW.replace(tzinfo=None), DEFAULT)
    tbilisi = NOW.astimezone(timezone(timedelta(hours=4)))
    d = next_poll_at(FRESH, ok(), tbilisi, DEFAULT)
    assert d.next_poll_at.tzinfo == UTC
    assert d.next_poll_at == NOW + timedelta(minutes=30)


KINDS = ["ok", "not_modified", "http_error", "timeout", "connect_error", "dns_error", "tls_error"]
KINDS += ["too_large", "too_many_redirects", "malformed", "aborted"]
STATUSES = [None, 200, 304, 400, 401, 403, 404, 408, 410, 425, 429, 451, 500, 502, 503]


def test_property_delay_always_within_bounds():
    rng = random.Random(20240301)
    low = DEFAULT.min_interval_minutes * (1 - DEFAULT.jitter_fraction)
    high = DEFAULT.max_backoff_minutes * (1 + DEFAULT.jitter_fraction)
    for _ in range(1000):
        total = rng.randint(0, 50)
        outcome = PollOutcome(
            kind=rng.choice(KINDS),
            status=rng.choice(STATUSES),
            retry_after_seconds=rng.choice([None, None, rng.uniform(-10, 10**6)]),
            ttl_minutes=rng.choice([None, rng.uniform(0, 20_000)]),
            max_age_seconds=rng.choice([None, rng.uniform(0, 10**6)]),
            items_total=total,
            items_new=rng.randint(0, total),
        )
        state = FeedState(
            consecutive_failures=rng.randint(0, 500),
            failure_class=rng.choice([None, HARD, SOFT, TEMPORARY]),
            interval_factor=rng.uniform(0.1, 10),
            disabled_reason=rng.choice([None, None, "gone_410"]),
        )
        d = next_poll_at(state, outcome, NOW, DEFAULT, rng.random())
        minutes = _minutes(d)
        assert 0.5 <= d.interval_factor <= 4.0
        assert d.next_poll_at.tzinfo == UTC
        if outcome.kind == "aborted":
            assert minutes == 0 and d.consecutive_failures == state.consecutive_failures
            continue
        if d.disabled_reason is not None:  # only a 410 disables, only a success re-enables
            assert d.failure_class is not None
            assert outcome.status == 410 or d.disabled_reason == state.disabled_reason
        if d.failure_class is not None and outcome.retry_after_seconds is not None:
            asked = min(max(outcome.retry_after_seconds, 0) / 60, DEFAULT.retry_after_cap_minutes)
            assert minutes >= min(asked, DEFAULT.max_backoff_minutes) - 1e-6
            continue
        assert low <= minutes <= high
