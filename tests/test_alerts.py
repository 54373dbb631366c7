"""Keyword alerts end to end: fixture feeds over real HTTP, the pipeline, the rules file,
a webhook receiver and an SMTP server on 127.0.0.1; once per story, never lost, never
sent twice; bad rules stop start-up; the commands."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from monitor import pipeline
from monitor.alerts.matching import Evaluator, kibana_link, open_alerter
from monitor.alerts.percolator import percolate_body, rule_documents
from monitor.alerts.rules import load_rules
from monitor.errors import StartupError
from monitor.feeds import Feed
from monitor.stages.fetch import Fetcher
from tests.clocks import Clock
from tests.fixtures import stories as fx

pytest_plugins = ("tests.alertservers",)

RULES = """
[channels.desk]
type = "webhook"
url = "{hook}"
secret = "s3cret"

[channels.mail]
type = "email"
host = "127.0.0.1"
port = {smtp}
from = "monitor@example.org"
to = ["desk@example.org"]

[[rules]]
name = "eu-talks"
query = 'Мирзоян AND (делимитаци* OR "мирный договор")'
channels = ["desk", "mail"]

[[rules]]
name = "crossing"
query = '"border crossing" OR Баграташен OR Բագրատաշեն*'
channels = ["desk"]
throttle_hours = 0
"""


@pytest.fixture
def env(make_settings, make_context, feed_server, webhook_receiver, smtp_server, tmp_path):
    made = []

    class Env:
        hook, smtp = webhook_receiver, smtp_server

        def __init__(self, rules: str = RULES, **overrides):
            path = tmp_path / "alerts.toml"
            path.write_text(rules.format(hook=webhook_receiver.url, smtp=smtp_server.port))
            self.settings = make_settings(
                translation=False, alerts_file=path, kibana_public_url="http://kibana.example:5601",
                **overrides,
            )  # fmt: skip
            self.clock = Clock()
            self.open()

        def open(self):
            self.ctx = make_context(self.settings)
            self.ctx.clock = self.clock
            self.ctx.alerts = open_alerter(self.ctx)
            self.fetcher = Fetcher(self.settings, self.ctx.stop)
            made.append(self)

        def restart(self):
            self.fetcher.close()
            self.ctx.close()
            self.open()

        def poll(self, name: str, articles: list[dict]):
            path = f"/alerts/{name}.xml"
            feed_server.set_route(path, body=fx.rss(feed_server.base_url, articles))
            feed = Feed(name=name, url=feed_server.url(path), language=articles[0]["language"])
            return pipeline.poll_feed(self.ctx, self.fetcher, feed)

        def alerts(self) -> list[tuple[str, str]]:
            """(rule, article id) of every recorded alert, oldest first."""
            rows = self.ctx.state.db.read("SELECT rule, article_id FROM alerts ORDER BY id")
            return [(r["rule"], r["article_id"]) for r in rows]

        def hooks(self) -> list[dict]:
            return [json.loads(r.body) for r in webhook_receiver.requests]

    yield Env
    for e in made:
        e.fetcher.close()


def test_from_a_feed_to_a_webhook_and_an_email(env):
    e = env()
    e.poll("agency-ru", fx.AGENCY[:1])  # matched right after the feed's commit
    assert [rule for rule, _ in e.alerts()] == ["eu-talks"]
    assert e.hooks() == []  # sending is the daemon's job, off the polling threads
    outcomes = e.ctx.alerts.run()
    assert outcomes["delivery_sent"] == 3  # log, desk, mail
    (hook,) = e.hooks()
    article = fx.AGENCY[0]
    assert hook["rule"] == "eu-talks"
    assert hook["title"] == article["title"]
    assert hook["language"] == "ru" and hook["source"] == "agency-ru"
    assert hook["url"].endswith(article["url"])
    assert hook["matched_terms"] == ["Мирзоян", "делимитаци*", "мирный договор"]
    assert hook["story_id"] == hook["article_id"]
    assert hook["kibana_url"].startswith("http://kibana.example:5601/app/discover#/")
    assert hook["article_id"] in hook["kibana_url"]
    (mail,) = e.smtp.messages
    assert mail.rcpt_tos == ["desk@example.org"]
    assert "eu-talks" in mail.message["Subject"]
    assert article["title"] in mail.text
    log_lines = (e.settings.data_dir / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line)["key"] for line in log_lines] == [hook["key"]]
    # the document carries the rule for Kibana's "alerts" search
    assert e.ctx.store.get(hook["article_id"])["alerts"] == ["eu-talks"]


def test_one_alert_per_rule_per_story_within_the_throttle(env):
    e = env()
    e.poll("agency-ru", fx.AGENCY[:2])  # two copies of one story
    e.poll("outlet-b", fx.AGENCY[2:3])
    assert len(e.alerts()) == 1
    e.clock.now += timedelta(hours=25)  # past the 24 h throttle: the story alerts again
    e.poll("outlet-c", fx.AGENCY[3:])
    assert len(e.alerts()) == 2
    e.ctx.alerts.run()
    assert [h["rule"] for h in e.hooks()] == ["eu-talks", "eu-talks"]
    assert len({h["story_id"] for h in e.hooks()}) == 1


def test_throttle_zero_alerts_per_article_and_languages_both_match(env):
    e = env()
    e.poll("ru", fx.CROSS[:1])
    e.poll("hy", fx.CROSS[1:])
    assert len(e.alerts()) == 2
    e.ctx.alerts.run()
    assert sorted(h["language"] for h in e.hooks()) == ["hy", "ru"]


def test_a_channel_down_gets_the_alert_once_it_is_back_and_a_restart_resends_nothing(env):
    e = env()
    e.hook.down()
    e.poll("agency-ru", fx.AGENCY[:1])
    outcomes = e.ctx.alerts.run()
    assert outcomes["delivery_failed"] == 1 and outcomes["delivery_sent"] == 2
    assert len(e.smtp.messages) == 1  # the other channels go on
    e.hook.up()
    e.clock.now += timedelta(seconds=30)  # the first retry is due
    assert e.ctx.alerts.run()["delivery_sent"] == 1
    assert len(e.hooks()) == 1
    e.restart()  # a new process on the same data folder
    e.clock.now += timedelta(days=1)
    e.poll("agency-ru", fx.AGENCY[:1])  # the same article again: a duplicate
    assert e.ctx.alerts.run() == {}
    assert len(e.hooks()) == 1 and len(e.smtp.messages) == 1


def test_an_article_kept_just_before_a_crash_is_matched_after_the_restart(env):
    e = env()
    alerter, e.ctx.alerts = e.ctx.alerts, None  # the process dies before matching…
    e.ctx.alerts = alerter
    with e.ctx.state.batch():  # …right after the transaction that kept the article
        alerter.enqueue([{"id": "a1", "title": "Баграташен", "source": "s"}], e.clock())
    assert e.ctx.alerts.waiting() == 1
    e.restart()
    assert e.ctx.alerts.run()["alerted"] == 1
    assert e.ctx.alerts.waiting() == 0 and len(e.hooks()) == 1


def test_an_english_rule_matches_the_translation(env):
    e = env()
    e.poll("ru", fx.CROSS[:1])  # matched at keep: "border crossing" is not in Russian…
    doc = e.ctx.store.find({"url": "%" + fx.CROSS[0]["url"]})[0]
    assert len(e.alerts()) == 1  # …but Баграташен is
    title_en, text_en = fx.CROSS[0]["english"]
    e.ctx.alerts.enqueue([{**doc, "title_en": title_en, "text_en": text_en}], e.clock())
    assert e.ctx.alerts.match()["repeated"] == 1  # same rule, same article: one alert
    only_english = RULES.replace("OR Баграташен OR Բագրատաշեն*", "")
    other = env(only_english, data_dir=e.settings.data_dir.parent / "other")
    other.poll("ru", fx.CROSS[:1])
    assert other.alerts() == []
    doc = other.ctx.store.find({"url": "%" + fx.CROSS[0]["url"]})[0]
    other.ctx.alerts.enqueue([{**doc, "title_en": title_en, "text_en": text_en}], other.clock())
    assert other.ctx.alerts.match()["alerted"] == 1


def test_language_and_source_filters(env):
    rules = RULES.replace("throttle_hours = 0", 'throttle_hours = 0\nlanguages = ["hy"]')
    e = env(rules)
    e.poll("ru", fx.CROSS[:1])
    e.poll("hy", fx.CROSS[1:])
    assert len(e.alerts()) == 1
    e.ctx.alerts.run()
    assert [h["language"] for h in e.hooks()] == ["hy"]


@pytest.mark.parametrize(
    "rules, expected",
    [
        (
            '[[rules]]\nname = "r"\nquery = \'Zangezur AND "corridor\'',
            "rule `r`: bad query: unclosed quote at 13",
        ),
        ('[[rules]]\nname = "r"\nquery = "titel:Baku"', "rule `r`: bad query: unknown field"),
        (
            '[[rules]]\nname = "r"\nquery = "Baku"\nchannels = ["pager"]',
            "unknown channel(s) ['pager']",
        ),
        ('[[rules]]\nquery = "Baku"', "rule #1: `name` is missing"),
        ('[[rules]]\nname = "r"\nquery = "Baku"\nlanguages = ["de"]', "unknown language(s) ['de']"),
        ('[[rules]]\nname = "r"\nquery = "Baku"\nthrottle = 3', "unknown key(s) ['throttle']"),
        ('[channels.x]\ntype = "sms"\n[[rules]]\nname = "r"\nquery = "a"', "unknown type `sms`"),
        ('[[rules]]\nname = "r"\nquery = "a"\n[[rules]]\nname = "r"\nquery = "b"', "used twice"),
    ],
)
def test_bad_rules_stop_start_up_naming_the_rule_and_position(
    make_settings, tmp_path, rules, expected
):
    path = tmp_path / "alerts.toml"
    path.write_text(rules)
    settings = make_settings(alerts_file=path)
    with pytest.raises(StartupError) as caught:
        from monitor.alerts.channels import build_channels

        build_channels(load_rules(settings).channels, settings)
    assert expected in str(caught.value)


def test_a_named_rules_file_must_exist_and_the_default_may_not(make_settings, tmp_path):
    assert load_rules(make_settings()).rules == []
    with pytest.raises(StartupError, match="alerts file .* does not exist"):
        load_rules(make_settings(alerts_file=tmp_path / "missing.toml"))


def test_the_percolator_gets_each_rule_and_each_batch_in_one_request(make_settings, tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text(RULES.format(hook="http://127.0.0.1:9/", smtp=25))
    rules = load_rules(make_settings(alerts_file=path)).rules
    docs = rule_documents(rules)
    assert set(docs) == {"eu-talks", "crossing"}
    assert docs["eu-talks"]["rule"] == "eu-talks" and "bool" in json.dumps(docs["eu-talks"])
    body = percolate_body([{"id": "a", "title": "T", "url": "u", "story_id": "s"}], len(rules))
    documents = body["query"]["percolate"]["documents"]
    assert body["query"]["percolate"]["field"] == "query" and body["size"] == 2
    assert set(documents[0]) == {
        "title",
        "text",
        "title_en",
        "text_en",
        "language",
        "source",
        "country",
        "kind",
    }


def test_the_evaluator_matches_documents_by_slot(make_settings, tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text(RULES.format(hook="http://127.0.0.1:9/", smtp=25))
    rules = load_rules(make_settings(alerts_file=path)).rules
    docs = [{"title": "Баграташен"}, {"title": "nothing"}, {"text": "Мирзоян: делимитация"}]
    assert [(r.name, slot) for r, slot in Evaluator().match(rules, docs)] == [
        ("crossing", 0),
        ("eu-talks", 2),
    ]


def test_a_kibana_link_opens_the_article_in_discover():
    link = kibana_link("http://k:5601", "abc123")
    assert link.startswith("http://k:5601/app/discover#/?_g=(time:(from:now-1y,to:now))")
    assert "index:monitor-data-view" in link and "id:%22abc123%22" in link
    assert kibana_link("", "abc") == ""


@pytest.fixture
def cli(tmp_path, feed_server, webhook_receiver, smtp_server):
    from tests.conftest import write_feeds
    from tests.test_cli import Cli

    c = Cli(tmp_path, feed_server)
    feeds = []
    for name, articles in (("agency-ru", fx.AGENCY[:2]), ("hy", fx.CROSS[1:])):
        path = f"/cli-alerts/{name}.xml"
        feed_server.set_route(path, body=fx.rss(feed_server.base_url, articles))
        feeds.append(
            {"name": name, "url": feed_server.url(path), "language": articles[0]["language"]}
        )
    write_feeds(tmp_path / "feeds.toml", feeds)
    (tmp_path / "alerts.toml").write_text(
        RULES.format(hook=webhook_receiver.url, smtp=smtp_server.port)
    )
    c.env["MONITOR_TRANSLATION"] = "false"
    return c


def test_poll_once_alerts_and_delivers_before_it_exits(cli, webhook_receiver, smtp_server):
    cli.run("poll", "--once")
    rules = sorted(json.loads(r.body)["rule"] for r in webhook_receiver.requests)
    assert rules == ["crossing", "eu-talks"]  # the agency's two copies: one alert
    assert len(smtp_server.messages) == 1
    history = [json.loads(x) for x in cli.run("alerts", "history", "--json").stdout.splitlines()]
    # newest first; the two feeds are polled at once, so either rule may come first
    assert [h["id"] for h in history] == sorted((h["id"] for h in history), reverse=True)
    by_rule = {h["rule"]: h for h in history}
    assert sorted(by_rule) == ["crossing", "eu-talks"]
    assert {d["channel"]: d["status"] for d in by_rule["eu-talks"]["deliveries"]} == {
        "desk": "sent", "log": "sent", "mail": "sent",
    }  # fmt: skip
    text = cli.run("alerts", "history").stdout
    assert text.startswith("2 alerts, newest first") and "desk: sent, 1 attempts" in text


def test_alerts_list_and_test_on_the_embedded_store(cli):
    listed = cli.run("alerts", "list").stdout
    assert "2 rules in" in listed and "eu-talks: Мирзоян AND" in listed
    assert "desk: " in listed and "s3cret" not in listed
    cli.run("poll", "--once")
    found = cli.run("alerts", "test", "Баграташен OR Բագրատաշեն*", "--json").stdout.splitlines()
    assert [json.loads(x)["language"] for x in found] == ["hy"]
    assert json.loads(found[0])["matched_terms"] == ["Բագրատաշեն*"]
    none = cli.run("alerts", "test", "Tbilisi").stdout
    assert none.startswith("0 of the newest 3 articles match")
    bad = cli.run("alerts", "test", '"unclosed', check=False)
    assert bad.returncode == 2 and "unclosed quote at 0" in bad.stderr


def test_a_bad_rule_stops_the_daemon_at_start(cli, tmp_path):
    (tmp_path / "alerts.toml").write_text('[[rules]]\nname = "r"\nquery = "Baku AND"\n')
    proc = cli.run("run", check=False, timeout=60)
    assert proc.returncode == 2
    assert "rule `r`: bad query" in proc.stderr and "^" in proc.stderr


def test_the_daemon_matches_and_delivers_by_itself(cli, webhook_receiver):
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--set", "alerts_match_seconds=0.5",
         "--log-format", "json"],
        cwd=cli.tmp, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(webhook_receiver.requests) < 2:
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(webhook_receiver.requests) == 2
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    (component,) = [e for e in events if e.get("component") == "alerts"]
    assert component["on"] is True and "2 rules from" in component["why"]
    assert sorted(e["rule"] for e in events if e["event"] == "alert") == ["crossing", "eu-talks"]


def test_the_example_rules_file_loads(make_settings, monkeypatch):
    from monitor.alerts.channels import build_channels
    from tests.conftest import ROOT

    monkeypatch.setenv("MONITOR_WEBHOOK_SECRET", "x")
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "y")
    settings = make_settings(alerts_file=ROOT / "config" / "alerts.example.toml")
    ruleset = load_rules(settings)
    assert [r.name for r in ruleset.rules] == [
        "corridor",
        "border-incidents",
        "peace-treaty-in-titles",
    ]
    assert set(build_channels(ruleset.channels, settings)) == {"log", "desk", "mail"}


def test_the_rules_index_has_one_shard_the_articles_replicas_and_the_alert_analyzer(
    make_settings,
):
    from monitor.alerts.percolator import Percolator

    settings = make_settings(elasticsearch_index="news", elasticsearch_replicas=0)
    percolator = Percolator(None, settings)
    assert percolator.index == "news-alert-rules"
    assert percolator.index_settings["number_of_shards"] == 1
    assert percolator.index_settings["number_of_replicas"] == 0
    assert "analyzer" in percolator.index_settings["analysis"]
