"""Alert channels and the delivery of recorded alerts: the plugin registry, each built-in
channel against a real receiver on 127.0.0.1 (tests/alertservers.py), and the Sender's
outbox over a real state database (retries, backoff, restarts, crashes)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerts.channels import Channel, DeliveryError, build_channels, load_channel_types
from monitor.alerts.channels.email import EmailChannel
from monitor.alerts.channels.log import LogChannel
from monitor.alerts.channels.webhook import WebhookChannel
from monitor.alerts.deliver import (
    LEASE,
    Sender,
    backoff_seconds,
    history,
    pending_counts,
    record,
    retry_failed,
)
from monitor.errors import StartupError
from monitor.state import StateDB, iso
from tests.localservers import closed_port_url

# webhook_receiver, smtp_server, start_smtp_server (self_signed_certificate: conftest)
pytest_plugins = ("tests.alertservers",)

START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
TITLES = {
    "hy": ("Կառավարությունը հաստատեց գազի նոր պայմանագիրը", "Government approved the gas contract"),
    "fa": ("دولت قرارداد جدید گاز را تصویب کرد", "The government approved a new gas contract"),
    "ru": ("Правительство одобрило новый газовый контракт", "Government approves new gas contract"),
}  # fmt: skip


def make_alert(language: str = "hy", n: int = 1, **changes) -> dict:
    title, title_en = TITLES[language]
    alert = {
        "key": f"gas-deals:story-{language}-{n}",
        "rule": "gas-deals",
        "story_id": f"story-{language}-{n}",
        "article_id": f"article-{language}-{n}",
        "title": title,
        "title_en": title_en,
        "source": f"Source {language.upper()}",
        "language": language,
        "published": "2026-03-01T09:55:00+00:00",
        "url": f"https://news.example/{language}/{n}",
        "matched_terms": ["gas", "contract"],
        "kibana_url": f"http://127.0.0.1:5601/app/discover#/doc/monitor/{language}-{n}",
        "created_at": iso(START),
    }
    return {**alert, **changes}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def state(tmp_path):
    db = StateDB(tmp_path / "state.db")
    yield db
    db.close()


@pytest.fixture
def logged(caplog, monkeypatch):
    """The (event, fields) of the records logged under monitor.alerts."""
    # setup_logging (run by CLI tests) stops "monitor" records at their own handler
    monkeypatch.setattr(logging.getLogger("monitor"), "propagate", True)
    caplog.set_level(logging.INFO, logger="monitor.alerts")
    return lambda: [
        (r.msg, r.__dict__) for r in caplog.records if r.name.startswith("monitor.alerts")
    ]


def webhook(url: str, settings, **options) -> WebhookChannel:
    return build_channels({"hook": {"type": "webhook", "url": url, **options}}, settings)["hook"]


def deliveries(state) -> dict[tuple[str, str], dict]:
    """Every delivery by (alert key, channel)."""
    return {(a["key"], d["channel"]): d for a in history(state, 1000) for d in a["deliveries"]}


def error_of(channel: Channel, alert: dict) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        channel.send(alert)
    return caught.value


# --- the registry ---------------------------------------------------------------------------


def test_the_built_in_types_come_from_the_entry_points():
    types = load_channel_types()
    assert types["log"] is LogChannel
    assert types["webhook"] is WebhookChannel
    assert types["email"] is EmailChannel


def _install_plugin(tmp_path, monkeypatch, module: str, source: str, entry: str) -> None:
    """A distribution on sys.path with an entry point, as `pip install` leaves one."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[monitor.alert_channels]\n{entry}\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, module, raising=False)


PAGER = """
from monitor.alerts.channels import Channel

SENT = []


class PagerChannel(Channel):
    required_options = ("room",)

    def send(self, alert):
        SENT.append((self.options["room"], alert["key"]))

    def describe(self):
        return "pager: room " + self.options["room"]
"""


def test_a_third_party_type_registers_like_the_built_ins(
    tmp_path, monkeypatch, make_settings, state, clock
):
    _install_plugin(
        tmp_path, monkeypatch, "monitor_pager", PAGER, "pager = monitor_pager:PagerChannel"
    )
    assert {"log", "webhook", "email", "pager"} <= set(load_channel_types())
    channels = build_channels({"oncall": {"type": "pager", "room": "desk"}}, make_settings())
    assert channels["oncall"].describe() == "pager: room desk"
    record(state, make_alert(), ["oncall"], clock())
    assert Sender(state, channels, clock).send_due() == Counter(sent=1)
    sent = sys.modules["monitor_pager"].SENT
    assert sent == [("desk", make_alert()["key"])]
    with pytest.raises(StartupError, match="`oncall` \\(type `pager`\\): option `room` is missing"):
        build_channels({"oncall": {"type": "pager"}}, make_settings())


def test_a_broken_plugin_is_named_and_the_others_still_load(
    tmp_path, monkeypatch, make_settings, logged
):
    _install_plugin(tmp_path, monkeypatch, "monitor_sms", "", "sms = monitor_sms_gone:SmsChannel")
    types = load_channel_types()
    assert "sms" not in types and {"log", "webhook", "email"} <= set(types)
    [(event, fields)] = logged()
    assert event == "alert_channel_type_broken" and fields["channel_type"] == "sms"
    assert "ModuleNotFoundError" in fields["error"] and fields["exc_info"] is None
    with pytest.raises(StartupError) as caught:
        build_channels({"phones": {"type": "sms"}}, make_settings())
    message = str(caught.value)
    assert "`phones`" in message and "`sms` is installed but broken" in message
    assert "monitor_sms_gone" in message and "Traceback" not in message


def test_an_unknown_or_missing_type_names_the_channel_and_the_known_types(make_settings):
    with pytest.raises(StartupError) as caught:
        build_channels({"pager": {"type": "sms"}}, make_settings())
    assert "alert channel `pager` has unknown type `sms`" in str(caught.value)
    assert "known types: email, log, webhook" in str(caught.value)
    with pytest.raises(StartupError, match="`pager` has no `type`; known types: email, log"):
        build_channels({"pager": {"url": "http://127.0.0.1/"}}, make_settings())


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"type": "webhook"}, "`hook` (type `webhook`): option `url` is missing"),
        ({"type": "webhook", "url": "http://127.0.0.1/", "secrt": "x"},
         "`hook` (type `webhook`): unknown option `secrt`; did you mean `secret`?"),
        ({"type": "webhook", "url": "ftp://127.0.0.1/"}, "`hook`: option `url` must be an http"),
        ({"type": "webhook", "url": "http://127.0.0.1/", "secret": "a", "secret_env": "B"},
         "option `secret_env` and `secret` are both set"),
        ({"type": "webhook", "url": "http://127.0.0.1/", "secret_env": "MONITOR_TEST_UNSET"},
         "option `secret_env` names $MONITOR_TEST_UNSET, which is not set"),
        ({"type": "webhook", "url": "http://127.0.0.1/", "headers": {"Idempotency-Key": "x"}},
         "option `headers` may not set Idempotency-Key"),
        ({"type": "webhook", "url": "http://127.0.0.1/", "timeout_seconds": 0},
         "option `timeout_seconds` must be in (0, 300]"),
        ({"type": "email", "host": "127.0.0.1", "from": "a@b.test", "to": ["c@d.test"],
          "ssl": True, "starttls": True}, "option `ssl` and `starttls` are both true"),
        ({"type": "email", "host": "127.0.0.1", "from": "a@b.test", "to": ["c@d.test"],
          "username": "desk"}, "option `password` is missing"),
        ({"type": "email", "host": "127.0.0.1", "from": "a@b.test", "to": []},
         "option `to` is empty"),
        ({"type": "email", "host": "127.0.0.1", "from": "nobody", "to": ["c@d.test"]},
         "option `from` must be an email address"),
        ({"type": "log", "path": 3}, "`hook`: option `path` must be a file name"),
    ],
)  # fmt: skip
def test_a_bad_option_stops_start_up_naming_the_channel_and_the_option(
    options, expected, make_settings, monkeypatch
):
    monkeypatch.delenv("MONITOR_TEST_UNSET", raising=False)
    with pytest.raises(StartupError) as caught:
        build_channels({"hook": options}, make_settings())
    assert expected in str(caught.value)


# --- the log channel ---------------------------------------------------------------------


def test_the_log_channel_appends_one_json_line_per_alert(make_settings):
    settings = make_settings()
    channel = build_channels({"log": {"type": "log"}}, settings)["log"]
    assert channel.path == settings.data_dir / "alerts.jsonl"
    alerts = [make_alert("hy"), make_alert("fa")]
    for alert in alerts:
        channel.send(alert)
    raw = channel.path.read_bytes()
    assert TITLES["hy"][0].encode() in raw  # UTF-8, not \u escapes
    assert [json.loads(line) for line in raw.decode().splitlines()] == alerts
    assert str(channel.path) in channel.describe()


def test_the_log_channel_reports_a_file_it_cannot_write_as_transient(make_settings):
    settings = make_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "blocked").write_text("a file where a folder should be")
    channel = build_channels({"log": {"type": "log", "path": "blocked/alerts.jsonl"}}, settings)
    error = error_of(channel["log"], make_alert())
    assert not error.permanent and "cannot append" in error.message


# --- the webhook channel -------------------------------------------------------------------


def test_the_webhook_posts_the_alert_signed_over_timestamp_and_body(
    webhook_receiver, make_settings, tmp_path
):
    (tmp_path / "secret").write_text("s3cret-value\n")
    channel = webhook(
        webhook_receiver.url, make_settings(), secret_file=str(tmp_path / "secret"),
        headers={"X-Desk": "caucasus"},
    )  # fmt: skip
    alert = make_alert("fa")
    before = int(time.time())
    channel.send(alert)
    [request] = webhook_receiver.requests
    assert request.method == "POST" and request.path == "/hooks/monitor"
    assert json.loads(request.body) == alert and TITLES["fa"][0].encode() in request.body
    stamp = request.headers["x-monitor-timestamp"]
    assert before <= int(stamp) <= time.time()
    mac = hmac.new(b"s3cret-value", stamp.encode() + b"." + request.body, hashlib.sha256)
    assert request.headers["x-monitor-signature"] == "sha256=" + mac.hexdigest()
    assert request.headers["idempotency-key"] == alert["key"]
    assert request.headers["x-desk"] == "caucasus"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    described = channel.describe()
    assert "(signed)" in described and "s3cret" not in described and "/hooks" not in described


def test_an_unsigned_webhook_sends_no_signature(webhook_receiver, make_settings):
    channel = webhook(webhook_receiver.url, make_settings())
    channel.send(make_alert())
    headers = webhook_receiver.requests[0].headers
    assert "x-monitor-signature" not in headers and headers["idempotency-key"]
    assert "(unsigned)" in channel.describe()


@pytest.mark.parametrize(
    "status, permanent",
    [(400, True), (401, True), (404, True), (410, True), (422, True), (301, True),
     (408, False), (429, False), (500, False), (502, False), (503, False)],
)  # fmt: skip
def test_webhook_answers_are_classified(status, permanent, webhook_receiver, make_settings):
    webhook_receiver.answer(status, headers={"Location": "https://elsewhere.test/"})
    error = error_of(webhook(webhook_receiver.url, make_settings()), make_alert())
    assert error.permanent is permanent and f"HTTP {status}" in error.message


def test_a_webhook_retry_after_is_passed_on(webhook_receiver, make_settings):
    webhook_receiver.answer(429, headers={"Retry-After": "120"})
    error = error_of(webhook(webhook_receiver.url, make_settings()), make_alert())
    assert not error.permanent and error.retry_after_seconds == 120


def test_a_closed_port_and_a_slow_receiver_are_transient(webhook_receiver, make_settings):
    refused = error_of(webhook(closed_port_url() + "/hook", make_settings()), make_alert())
    assert not refused.permanent and "ConnectError" in refused.message
    webhook_receiver.delay_seconds = 1.0
    channel = webhook(webhook_receiver.url, make_settings(), timeout_seconds=0.2)
    started = time.monotonic()
    slow = error_of(channel, make_alert())
    assert not slow.permanent and "no answer within 0.2 s" in slow.message
    assert time.monotonic() - started < 0.9


# --- the email channel ---------------------------------------------------------------------


def email_channel(server, settings, **options) -> EmailChannel:
    table = {
        "type": "email", "host": "127.0.0.1", "port": server.port,
        "from": "Monitor <alerts@monitor.test>",
        "to": ["desk@newsroom.test", "chief@newsroom.test"],
        "timeout_seconds": 5, **options,
    }  # fmt: skip
    return build_channels({"desk": table}, settings)["desk"]


def test_email_in_armenian_persian_and_russian(smtp_server, make_settings):
    channel = email_channel(smtp_server, make_settings())
    alerts = [make_alert(language) for language in TITLES]
    for alert in alerts:
        channel.send(alert)
    assert len(smtp_server.messages) == 3
    for alert, got in zip(alerts, smtp_server.messages, strict=True):
        assert got.mail_from == "alerts@monitor.test"
        assert got.rcpt_tos == ["desk@newsroom.test", "chief@newsroom.test"]
        message = got.message
        assert message["Subject"] == f"[monitor] gas-deals: {alert['title_en']}"
        assert message["From"] == "Monitor <alerts@monitor.test>"
        assert message["X-Monitor-Alert-Key"] == alert["key"]
        assert message["Message-ID"].endswith("@monitor.test>")
        assert message.get_content_charset() == "utf-8"
        body = got.text
        assert body.startswith("Rule: gas-deals\nMatched terms: gas, contract\n\n")
        assert f"{alert['title']}\nEnglish: {alert['title_en']}\n" in body
        for line in (f"Source: {alert['source']}", f"Language: {alert['language']}",
                     f"Published: {alert['published']}", f"Link: {alert['url']}",
                     f"Kibana: {alert['kibana_url']}"):  # fmt: skip
            assert line + "\n" in body
    ids = [got.message["Message-ID"] for got in smtp_server.messages]
    assert len(set(ids)) == 3
    channel.send(alerts[0])  # sent again: recognisable as the same message
    assert smtp_server.messages[-1].message["Message-ID"] == ids[0]
    assert "desk@newsroom.test" in channel.describe() and "no TLS" in channel.describe()


def test_without_an_english_title_the_subject_has_the_original(smtp_server, make_settings):
    alert = make_alert("fa", title="دولت\nقرارداد را تصویب کرد", title_en="", kibana_url="")
    email_channel(smtp_server, make_settings()).send(alert)
    message = smtp_server.messages[0].message
    assert message["Subject"] == "[monitor] gas-deals: دولت قرارداد را تصویب کرد"
    body = smtp_server.messages[0].text
    assert "English:" not in body and "Kibana:" not in body


def test_email_answers_are_classified(smtp_server, make_settings):
    channel = email_channel(smtp_server, make_settings())
    smtp_server.reply("451 4.3.0 Try again later")
    later = error_of(channel, make_alert())
    assert not later.permanent and "SMTP 451" in later.message
    smtp_server.reply("550 5.7.1 Message refused")
    never = error_of(channel, make_alert())
    assert never.permanent and "SMTP 550" in never.message
    refused = error_of(
        email_channel(smtp_server, make_settings(), port=_closed_port()), make_alert()
    )
    assert not refused.permanent and "ConnectionRefusedError" in refused.message
    assert smtp_server.messages == []


def _closed_port() -> int:
    return int(closed_port_url().rsplit(":", 1)[1])


def test_email_over_starttls_with_login(
    start_smtp_server, self_signed_certificate, make_settings, monkeypatch
):
    server = start_smtp_server(starttls=True, login=("desk", "pa55"))
    ca = str(self_signed_certificate[0])
    monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", "pa55")
    login = {"username": "desk", "password_env": "MONITOR_TEST_SMTP_PASSWORD"}
    channel = email_channel(server, make_settings(), starttls=True, ca_certs=ca, **login)
    channel.send(make_alert("ru"))
    [got] = server.messages
    assert got.login == "desk" and got.starttls
    assert TITLES["ru"][0] in got.text
    assert "STARTTLS, login desk" in channel.describe() and "pa55" not in channel.describe()
    # the server requires TLS first: a configuration to fix, not worth retrying
    plain = error_of(email_channel(server, make_settings()), make_alert())
    assert plain.permanent and "SMTP 530" in plain.message
    wrong = email_channel(
        server, make_settings(), starttls=True, ca_certs=ca, username="desk", password="x"
    )
    refused = error_of(wrong, make_alert())
    assert refused.permanent and "SMTP 535" in refused.message
    # the system's CAs do not know a self-signed certificate
    untrusted = error_of(email_channel(server, make_settings(), starttls=True), make_alert())
    assert not untrusted.permanent and "CERTIFICATE_VERIFY_FAILED" in untrusted.message
    assert len(server.messages) == 1


def test_email_over_implicit_tls(start_smtp_server, self_signed_certificate, make_settings):
    server = start_smtp_server(implicit_tls=True, login=("desk", "pa55"))
    ca = str(self_signed_certificate[0])
    channel = email_channel(
        server, make_settings(), ssl=True, ca_certs=ca, username="desk", password="pa55"
    )
    channel.send(make_alert("hy"))
    assert [got.login for got in server.messages] == ["desk"]
    assert "implicit TLS" in channel.describe()


# --- recording alerts ------------------------------------------------------------------------


def test_record_is_idempotent_on_the_key(state, clock):
    alert = make_alert()
    alert_id = record(state, alert, ["log", "hook", "log"], clock())
    assert isinstance(alert_id, int)
    assert record(state, alert, ["email"], clock()) is None
    [stored] = history(state)
    assert stored["id"] == alert_id and stored["alert"] == alert
    assert [d["channel"] for d in stored["deliveries"]] == ["hook", "log"]
    assert pending_counts(state) == {"hook": 1, "log": 1}
    with pytest.raises(ValueError, match="alert lacks story_id"):
        record(state, {**make_alert(n=2), "story_id": ""}, ["log"], clock())


def test_record_joins_the_callers_transaction_and_rolls_back_with_it(state, clock):
    with pytest.raises(RuntimeError), state.batch():
        assert record(state, make_alert(), ["log", "hook"], clock()) is not None
        raise RuntimeError("a later write of the same batch failed")
    assert state.db.read("SELECT count(*) FROM alerts")[0][0] == 0
    assert state.db.read("SELECT count(*) FROM alert_deliveries")[0][0] == 0
    with state.batch():
        alert_id = record(state, make_alert(), ["log"], clock())
    assert [a["id"] for a in history(state)] == [alert_id]


# --- sending -------------------------------------------------------------------------------


def test_a_receiver_down_then_up_gets_the_alert_exactly_once(
    state, clock, webhook_receiver, make_settings
):
    channels = {"hook": webhook(webhook_receiver.url, make_settings(), secret="s")}
    alert = make_alert()
    record(state, alert, ["hook"], clock())
    sender = Sender(state, channels, clock)
    webhook_receiver.down()
    assert sender.send_due() == Counter(failed=1)
    waiting = deliveries(state)[alert["key"], "hook"]
    assert waiting["status"] == "pending" and waiting["attempts"] == 1
    assert waiting["next_attempt_at"] == iso(START + timedelta(seconds=30))
    assert "ConnectError" in waiting["last_error"]
    webhook_receiver.up()
    clock.advance(29)
    assert sender.send_due() == Counter() and webhook_receiver.requests == []
    clock.advance(1)
    assert sender.send_due() == Counter(sent=1)
    clock.advance(86400)
    assert sender.send_due() == Counter()
    assert len(webhook_receiver.requests) == 1
    sent = deliveries(state)[alert["key"], "hook"]
    assert sent["status"] == "sent" and sent["sent_at"] == iso(START + timedelta(seconds=30))
    assert sent["attempts"] == 2 and pending_counts(state) == {}


def test_a_new_sender_on_the_same_state_file_does_not_resend(
    tmp_path, clock, webhook_receiver, make_settings
):
    channels = {"hook": webhook(webhook_receiver.url, make_settings())}
    first = StateDB(tmp_path / "state.db")
    record(first, make_alert(), ["hook"], clock())
    assert Sender(first, channels, clock).send_due() == Counter(sent=1)
    first.close()
    again = StateDB(tmp_path / "state.db")
    clock.advance(3 * 86400)
    assert Sender(again, channels, clock).send_due() == Counter()
    again.close()
    assert len(webhook_receiver.requests) == 1


class CrashAfterSend(Channel):
    """Sends through ``inner``, then dies like a killed process, before the outcome is
    recorded."""

    def __init__(self, inner: Channel):
        self.inner = inner

    def send(self, alert):
        self.inner.send(alert)
        raise SystemExit("killed")


def test_a_crash_between_send_and_record_resends_once_with_the_same_key(
    tmp_path, clock, webhook_receiver, make_settings
):
    hook = webhook(webhook_receiver.url, make_settings())
    state = StateDB(tmp_path / "state.db")
    record(state, make_alert(), ["hook"], clock())
    with pytest.raises(SystemExit):
        Sender(state, {"hook": CrashAfterSend(hook)}, clock).send_due()
    state.close()
    restarted = Sender(StateDB(tmp_path / "state.db"), {"hook": hook}, clock)
    assert restarted.send_due() == Counter()  # the dead sender's claim still holds
    clock.advance(LEASE.total_seconds())
    assert restarted.send_due() == Counter(sent=1)
    clock.advance(86400)
    assert restarted.send_due() == Counter()
    keys = [r.headers["idempotency-key"] for r in webhook_receiver.requests]
    assert keys == [make_alert()["key"]] * 2
    restarted.state.close()


@pytest.mark.parametrize(
    "attempts, seconds",
    [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 960), (7, 1920), (8, 3600), (30, 3600)],
)
def test_backoff_doubles_from_30_seconds_to_an_hour(attempts, seconds):
    assert backoff_seconds(attempts) == seconds


def test_retry_after_lengthens_the_backoff_up_to_the_cap():
    assert backoff_seconds(1, retry_after_seconds=300) == 300
    assert backoff_seconds(5, retry_after_seconds=10) == 480
    assert backoff_seconds(1, retry_after_seconds=86400) == 3600


def test_a_dead_receiver_is_retried_on_schedule_and_given_up_after_three_days(
    state, clock, make_settings, logged
):
    channels = {"hook": webhook(closed_port_url() + "/hook", make_settings())}
    alert = make_alert()
    record(state, alert, ["hook"], clock())
    sender = Sender(state, channels, clock)
    delays = []
    while (outcome := sender.send_due()) == Counter(failed=1):
        due = datetime.fromisoformat(deliveries(state)[alert["key"], "hook"]["next_attempt_at"])
        delays.append((due - clock()).total_seconds())
        clock.now = due
    assert outcome == Counter(gave_up=1)
    assert delays[:9] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert set(delays[9:]) == {3600}
    assert timedelta(days=3) <= clock() - START < timedelta(days=3, hours=1)
    given_up = deliveries(state)[alert["key"], "hook"]
    assert given_up["status"] == "failed" and given_up["attempts"] == len(delays) + 1
    assert ("alert_delivery_gave_up", "older than 3 days") in [
        (event, fields.get("reason")) for event, fields in logged()
    ]
    clock.advance(86400)
    assert sender.send_due() == Counter()


def test_a_sender_honours_retry_after(state, clock, webhook_receiver, make_settings):
    webhook_receiver.answer(503, headers={"Retry-After": "600"})
    record(state, make_alert(), ["hook"], clock())
    Sender(state, {"hook": webhook(webhook_receiver.url, make_settings())}, clock).send_due()
    [waiting] = deliveries(state).values()
    assert waiting["next_attempt_at"] == iso(START + timedelta(seconds=600))


def test_a_permanent_refusal_is_not_retried_until_requeued(
    state, clock, webhook_receiver, make_settings
):
    webhook_receiver.answer(422)
    record(state, make_alert(), ["hook"], clock())
    sender = Sender(state, {"hook": webhook(webhook_receiver.url, make_settings())}, clock)
    assert sender.send_due() == Counter(gave_up=1)
    [failed] = deliveries(state).values()
    assert failed["status"] == "failed" and failed["last_error"].startswith("HTTP 422")
    clock.advance(86400)
    assert sender.send_due() == Counter() and len(webhook_receiver.requests) == 1
    assert pending_counts(state) == {}
    webhook_receiver.answer(200)
    assert retry_failed(state, clock(), channel="other") == 0
    assert retry_failed(state, clock()) == 1
    assert sender.send_due() == Counter(sent=1)
    keys = {r.headers["idempotency-key"] for r in webhook_receiver.requests}
    assert len(webhook_receiver.requests) == 2 and keys == {make_alert()["key"]}


def test_a_down_channel_is_tried_once_per_run_and_the_others_go_on(
    state, clock, webhook_receiver, make_settings
):
    settings = make_settings()
    channels = build_channels(
        {"log": {"type": "log"}, "hook": {"type": "webhook", "url": webhook_receiver.url}}, settings
    )
    webhook_receiver.down()
    for n in range(3):
        record(state, make_alert(n=n), ["log", "hook"], clock())
    assert Sender(state, channels, clock).send_due() == Counter(sent=3, failed=1)
    attempts = sorted(d["attempts"] for (_, ch), d in deliveries(state).items() if ch == "hook")
    assert attempts == [0, 0, 1]
    assert len(channels["log"].path.read_text().splitlines()) == 3


class Broken(Channel):
    def send(self, alert):
        raise ValueError("a bug in a plugin")

    def describe(self):
        return "broken"


def test_a_channel_that_crashes_never_stops_the_sender(state, clock, make_settings, logged):
    record(state, make_alert(), ["bug", "log"], clock())
    channels = {
        "bug": Broken("bug", {}, None),
        **build_channels({"log": {"type": "log"}}, make_settings()),
    }
    assert Sender(state, channels, clock).send_due() == Counter(failed=1, sent=1)
    waiting = deliveries(state)[make_alert()["key"], "bug"]
    assert (
        waiting["status"] == "pending" and waiting["last_error"] == "ValueError: a bug in a plugin"
    )
    events = {event: fields for event, fields in logged()}
    assert events["alert_channel_crashed"]["channel"] == "bug"
    assert events["alert_delivery_failed"]["retry_in_seconds"] == 30


def test_a_channel_no_longer_configured_keeps_its_deliveries(state, clock, make_settings, logged):
    record(state, make_alert(), ["log", "pager"], clock())
    channels = build_channels({"log": {"type": "log"}}, make_settings())
    sender = Sender(state, channels, clock)
    assert sender.send_due() == Counter(sent=1, unconfigured=1)
    assert sender.send_due() == Counter(unconfigured=1)
    warnings = [fields for event, fields in logged() if event == "alert_channel_not_configured"]
    assert [(w["channel"], w["pending"]) for w in warnings] == [("pager", 1)]  # said once
    assert pending_counts(state) == {"pager": 1}
    later = build_channels({"pager": {"type": "log", "path": "pager.jsonl"}}, make_settings())
    assert Sender(state, later, clock).send_due() == Counter(sent=1)


def test_history_is_newest_first_with_each_delivery(state, clock, make_settings):
    record(state, make_alert("hy"), ["log"], clock())
    clock.advance(60)
    record(state, make_alert("ru"), ["log", "hook"], clock())
    Sender(state, build_channels({"log": {"type": "log"}}, make_settings()), clock).send_due()
    newest, oldest = history(state)
    assert newest["alert"]["language"] == "ru" and oldest["alert"]["language"] == "hy"
    assert newest["created_at"] == iso(START)  # the alert's own time, kept
    assert {d["channel"]: d["status"] for d in newest["deliveries"]} == {
        "hook": "pending",
        "log": "sent",
    }
    assert history(state, limit=1) == [newest]
    assert pending_counts(state) == {"hook": 1}
