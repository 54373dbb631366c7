"""Kibana saved objects: the ndjson file itself, and the import request `monitor kibana setup`
sends, checked against a recorder of requests on 127.0.0.1 (it answers with the JSON that
Kibana's documentation gives; it is not Kibana). A real Kibana is used only when
MONITOR_TEST_KIBANA_URL is set."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import os
import re
import ssl
import time

import pytest

from monitor import kibana
from monitor.cli import main
from monitor.errors import StartupError, StoreUnavailable
from monitor.feeds import LANGUAGES
from monitor.settings import Settings
from monitor.store.elastic.template import mappings
from tests.localservers import Request, RequestRecorder, closed_port_url, running

OBJECTS = kibana.load_objects()
BY_KEY = {(o["type"], o["id"]): o for o in OBJECTS}
PROPERTIES = mappings()["properties"]
DEFAULT_ALIAS = Settings.model_fields["elasticsearch_index"].default
SUCCESS = {"success": True, "successCount": len(OBJECTS)}


def _of_type(type_: str) -> list[dict]:
    return [o for o in OBJECTS if o["type"] == type_]


def _search_source(obj: dict) -> dict:
    return json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def _field_exists(name: str) -> bool:
    """A mapped field, or a sub-field such as ``text.ru``."""
    top, _, sub = name.partition(".")
    if top not in PROPERTIES:
        return False
    return not sub or sub in PROPERTIES[top].get("fields", {})


def _fields_named(obj: dict) -> set[str]:
    """Every document field an object names: columns, sort, aggregations, KQL queries."""
    attributes = obj["attributes"]
    names = set(attributes.get("columns", []))
    names |= {pair[0] for pair in attributes.get("sort", [])}
    if "visState" in attributes:
        aggs = json.loads(attributes["visState"])["aggs"]
        names |= {a["params"]["field"] for a in aggs if "field" in a["params"]}
    if "kibanaSavedObjectMeta" in attributes:
        query = _search_source(obj).get("query", {}).get("query", "")
        names |= set(re.findall(r"([\w.]+)\s*:", query))
    if "timeFieldName" in attributes:
        names.add(attributes["timeFieldName"])
    return names


# --- the file ---------------------------------------------------------------------------


def test_every_line_is_one_saved_object_with_a_fixed_monitor_id():
    lines = kibana.objects_file().read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(OBJECTS) >= 10
    for line in lines:
        obj = json.loads(line)
        assert {"type", "id", "attributes", "references"} <= obj.keys(), line[:80]
        assert obj["id"].startswith("monitor-"), obj["id"]


def test_ids_are_unique():
    ids = [o["id"] for o in OBJECTS]
    assert len(ids) == len(set(ids))


def test_every_object_says_which_kibana_format_it_is_in():
    # Without a version Kibana would run every migration since 6.x on objects already in
    # the 8.0 shape; with it, only the later ones.
    for obj in OBJECTS:
        assert obj["coreMigrationVersion"] == "8.0.0", obj["id"]
        assert obj["migrationVersion"] == {obj["type"]: "8.0.0"}, obj["id"]


def test_every_reference_resolves_to_an_object_in_the_file():
    for obj in OBJECTS:
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), obj["id"]
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in BY_KEY, (obj["id"], ref)


def test_searches_and_visualizations_reach_the_data_view_through_a_reference():
    for obj in _of_type("search") + _of_type("visualization"):
        source = _search_source(obj)
        assert "index" not in source, obj["id"]  # an id inline would escape the references
        ref = {r["name"]: r for r in obj["references"]}[source["indexRefName"]]
        assert ref["type"] == "index-pattern", obj["id"]


def test_every_field_named_is_in_the_index_mappings():
    named = set()
    for obj in OBJECTS:
        for name in _fields_named(obj):
            assert _field_exists(name), f"{obj['id']} names {name!r}, not in template.mappings()"
            named.add(name)
    assert {"published", "language", "source", "kind", "alerts", "title_en"} <= named


def test_the_data_views_time_field_is_a_date_field():
    (data_view,) = _of_type("index-pattern")
    assert data_view["attributes"]["timeFieldName"] == "published"
    assert PROPERTIES["published"]["type"] == "date"


def test_the_alias_is_written_once_in_the_file_as_the_data_views_title():
    text = kibana.objects_file().read_text(encoding="utf-8")
    assert text.count(DEFAULT_ALIAS) == 1
    (data_view,) = _of_type("index-pattern")
    assert data_view["attributes"]["title"] == DEFAULT_ALIAS


def test_there_is_a_saved_search_per_language_and_for_all_seed_and_alerts():
    queries = {_search_source(o)["query"]["query"] for o in _of_type("search")}
    for code in LANGUAGES:
        assert f'kind: "article" and language: "{code}"' in queries, code
    assert {'kind: "article"', 'kind: "seed"', "alerts: *"} <= queries
    for obj in _of_type("search"):
        assert obj["attributes"]["sort"] == [["published", "desc"]], obj["id"]


# Attribute names Kibana 8.x validates saved searches and dashboards against (unknown
# names are refused): src/plugins/saved_search/server/saved_objects/schema.ts and
# src/plugins/dashboard/server/dashboard_saved_object/schema/v1/v1.ts.
SEARCH_ATTRIBUTES = {
    "title", "description", "columns", "sort", "grid", "rowHeight", "rowsPerPage", "hideChart",
    "breakdownField", "kibanaSavedObjectMeta", "isTextBasedQuery", "usesAdHocDataView",
    "timeRestore", "timeRange", "refreshInterval", "viewMode", "hideAggregatedPreview", "hits",
    "version", "sampleSize",
}  # fmt: skip
DASHBOARD_ATTRIBUTES = {
    "title", "description", "kibanaSavedObjectMeta", "timeRestore", "timeFrom", "timeTo",
    "refreshInterval", "controlGroupInput", "panelsJSON", "optionsJSON", "hits", "version",
}  # fmt: skip


def test_searches_and_the_dashboard_use_only_attributes_kibana_accepts():
    for obj in _of_type("search"):
        assert set(obj["attributes"]) <= SEARCH_ATTRIBUTES, obj["id"]
    for obj in _of_type("dashboard"):
        assert set(obj["attributes"]) <= DASHBOARD_ATTRIBUTES, obj["id"]


def test_visualizations_split_articles_over_time_by_language_and_top_10_sources():
    splits = {}
    for obj in _of_type("visualization"):
        state = json.loads(obj["attributes"]["visState"])
        if obj["id"] == "monitor-vis-stories":
            continue  # a table: the next test
        by_schema = {a["schema"]: a for a in state["aggs"]}
        assert by_schema["metric"]["type"] == "count"
        assert by_schema["segment"]["type"] == "date_histogram"
        assert by_schema["segment"]["params"]["field"] == "published"
        # The split comes before the date histogram, so its top N is over the whole range.
        assert [a["schema"] for a in state["aggs"]] == ["metric", "group", "segment"]
        splits[by_schema["group"]["params"]["field"]] = by_schema["group"]["params"]["size"]
        series = state["params"]["seriesParams"]
        assert [s["data"]["id"] for s in series] == [by_schema["metric"]["id"]]
    assert splits == {"language": len(LANGUAGES), "source": 10}


def test_the_stories_table_lists_the_10_biggest_stories_of_the_last_day():
    (vis,) = [o for o in _of_type("visualization") if o["id"] == "monitor-vis-stories"]
    state = json.loads(vis["attributes"]["visState"])
    assert state["type"] == "table"
    count, stories, headline, languages, sources = state["aggs"]
    assert (count["type"], count["schema"]) == ("count", "metric")
    assert stories["schema"] == "bucket" and stories["params"]["field"] == "story_id"
    assert (stories["params"]["orderBy"], stories["params"]["order"]) == (count["id"], "desc")
    assert stories["params"]["size"] == 10
    assert headline["type"] == "top_hits" and headline["params"]["sortOrder"] == "asc"
    assert [a["params"]["field"] for a in (languages, sources)] == ["language", "source"]
    (dashboard,) = _of_type("dashboard")
    refs = {r["name"]: r["id"] for r in dashboard["references"]}
    (panel,) = [
        p
        for p in json.loads(dashboard["attributes"]["panelsJSON"])
        if refs[p["panelRefName"]] == "monitor-vis-stories"
    ]
    # "of the day" whatever the dashboard's own range (7 days)
    assert panel["embeddableConfig"]["timeRange"] == {"from": "now-24h", "to": "now"}


def test_every_dashboard_panel_has_its_reference():
    (dashboard,) = _of_type("dashboard")
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dashboard["references"]}
    assert len(panels) == len(refs) == 4
    for panel in panels:
        ref = refs[panel["panelRefName"]]
        assert ref["type"] == panel["type"]
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"] and grid["x"] + grid["w"] <= 48
    assert len({p["panelIndex"] for p in panels}) == len(panels)
    shown = {(r["type"], r["id"]) for r in refs.values()}
    assert ("search", "monitor-search-all") in shown
    assert {o["id"] for o in _of_type("visualization")} <= {i for _, i in shown}


def test_a_non_default_alias_rewrites_the_data_view_title_and_nothing_else(make_settings):
    adapted = kibana.for_settings(OBJECTS, make_settings(elasticsearch_index="news-caucasus"))
    (data_view,) = [o for o in adapted if o["type"] == "index-pattern"]
    assert data_view["attributes"]["title"] == "news-caucasus"
    assert data_view["attributes"]["timeFieldName"] == "published"
    others = [o for o in adapted if o["type"] != "index-pattern"]
    assert others == [o for o in OBJECTS if o["type"] != "index-pattern"]
    assert OBJECTS[0]["attributes"]["title"] == DEFAULT_ALIAS  # the loaded copy is untouched


def test_an_installed_package_finds_the_file_under_the_working_folder(tmp_path, monkeypatch):
    # The image installs the package into site-packages and copies config/ to /app.
    monkeypatch.setattr(kibana, "OBJECTS_PLACES", (tmp_path / "nowhere", kibana.OBJECTS_NAME))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StartupError, match="run monitor from the folder that holds config/"):
        kibana.objects_file()
    (tmp_path / "config" / "kibana").mkdir(parents=True)
    (tmp_path / kibana.OBJECTS_NAME).write_bytes(kibana.to_ndjson(OBJECTS))
    assert kibana.load_objects() == OBJECTS


# --- the import request -------------------------------------------------------------------


@pytest.fixture
def recorder():
    with running(RequestRecorder(answer=(200, SUCCESS))) as rec:
        yield rec


def _uploaded(request: Request) -> tuple[dict, list[dict]]:
    """The multipart form's ``file`` part: its parameters and its objects."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    (part,) = [p for p in message.iter_parts() if p.get_param("name", header="content-disposition")]
    params = dict(part.get_params(header="content-disposition")[1:])
    lines = part.get_payload(decode=True).decode("utf-8").splitlines()
    return params, [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    "credentials, authorization",
    [
        (
            {"elasticsearch_username": "analyst", "elasticsearch_password": "s3cret"},
            "Basic " + base64.b64encode(b"analyst:s3cret").decode(),
        ),
        (
            {"elasticsearch_api_key": "a2V5aWQ6c2VjcmV0", "elasticsearch_username": "ignored"},
            "ApiKey a2V5aWQ6c2VjcmV0",
        ),
        ({}, None),
    ],
)
def test_the_import_request(recorder, make_settings, credentials, authorization):
    settings = make_settings(elasticsearch_index="news-caucasus", **credentials)
    report = kibana.setup(settings, recorder.url + "/")

    (request,) = recorder.requests
    assert (request.method, request.path) == ("POST", "/api/saved_objects/_import")
    assert request.query == {"overwrite": ["true"]}
    assert request.headers["kbn-xsrf"] == "true"
    assert request.headers.get("authorization") == authorization
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    params, sent = _uploaded(request)
    assert params["name"] == "file" and params["filename"].endswith(".ndjson")
    assert sent == kibana.for_settings(OBJECTS, settings)
    assert sent[0]["attributes"]["title"] == "news-caucasus"

    assert report.success and report.success_count == len(OBJECTS) and not report.errors
    assert report.summary() == (
        f"kibana: {len(OBJECTS)} of {len(OBJECTS)} saved objects imported into {recorder.url} "
        f"(data view news-caucasus); dashboard: {recorder.url}/app/dashboards#/view/"
        "monitor-dashboard"
    )


def test_a_space_in_the_url_is_kept_in_the_path(recorder, make_settings):
    kibana.setup(make_settings(), recorder.url + "/s/news")
    assert recorder.requests[0].path == "/s/news/api/saved_objects/_import"


def test_a_password_in_the_url_is_used_but_never_shown(recorder, make_settings):
    host = recorder.url.removeprefix("http://")
    report = kibana.setup(make_settings(), f"http://analyst:s3cret@{host}")
    assert (
        recorder.requests[0].headers["authorization"]
        == "Basic " + base64.b64encode(b"analyst:s3cret").decode()
    )
    assert "s3cret" not in report.summary() and report.url == recorder.url
    recorder.answer((503, {"message": "not ready"}))
    with pytest.raises(kibana.KibanaUnavailable) as exc:
        kibana.setup(make_settings(), f"http://analyst:s3cret@{host}")
    assert "s3cret" not in str(exc.value) and recorder.url in str(exc.value)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and message
    return message


def test_refused_credentials_name_the_credentials_settings(recorder, make_settings):
    recorder.answer(
        (401, {"statusCode": 401, "error": "Unauthorized", "message": "[security_exception]"})
    )
    with pytest.raises(StartupError) as exc:
        kibana.setup(make_settings(elasticsearch_username="analyst"), recorder.url, wait_seconds=5)
    message = _one_line(exc)
    assert "(401)" in message and recorder.url in message
    assert "elasticsearch_username" in message and "elasticsearch_api_key" in message
    assert len(recorder.requests) == 1  # wrong credentials are not retried


def test_missing_privileges_say_so_with_kibanas_message(recorder, make_settings):
    message = "Unable to bulk_create index-pattern"
    recorder.answer((403, {"statusCode": 403, "error": "Forbidden", "message": message}))
    with pytest.raises(StartupError) as exc:
        kibana.setup(make_settings(), recorder.url)
    assert message in _one_line(exc) and "privileges" in str(exc.value)


def test_a_url_that_is_not_kibana_is_a_configuration_error(recorder, make_settings):
    recorder.answer((404, {"error": "no handler found"}))
    with pytest.raises(StartupError) as exc:
        kibana.setup(make_settings(), recorder.url)
    assert "5601" in _one_line(exc)
    recorder.answer((200, "<html>a web server</html>"))
    with pytest.raises(StartupError) as exc:
        kibana.setup(make_settings(), recorder.url)
    assert "points at Kibana" in _one_line(exc)


def test_a_closed_port_is_unavailable_not_a_configuration_error(make_settings):
    url = closed_port_url()
    started = time.monotonic()
    with pytest.raises(kibana.KibanaUnavailable) as exc:
        kibana.setup(make_settings(), url)
    assert time.monotonic() - started < 5
    assert isinstance(exc.value, StoreUnavailable)  # the CLI's exit status 1
    message = _one_line(exc)
    assert f"Kibana at {url} is not available" in message and "cannot reach" in message


def test_https_to_a_plain_http_server_is_a_tls_configuration_error(recorder, make_settings):
    url = recorder.url.replace("http://", "https://")
    with pytest.raises(StartupError) as exc:
        kibana.setup(make_settings(), url, wait_seconds=5)
    message = _one_line(exc)
    assert f"TLS with Kibana at {url} failed" in message and "scheme" in message


def test_a_self_signed_kibana_needs_its_ca_in_elasticsearch_ca_certs(
    self_signed_certificate, make_settings
):
    cert, key = self_signed_certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with running(RequestRecorder(tls=context, answer=(200, SUCCESS))) as rec:
        with pytest.raises(StartupError) as exc:
            kibana.setup(make_settings(), rec.url, wait_seconds=5)
        assert "set elasticsearch_ca_certs" in _one_line(exc)
        report = kibana.setup(make_settings(elasticsearch_ca_certs=cert), rec.url)
        assert report.success and len(rec.requests) == 1
        report = kibana.setup(make_settings(elasticsearch_verify_certs=False), rec.url)
        assert report.success and len(rec.requests) == 2


def test_a_starting_kibana_is_waited_for(recorder, make_settings):
    not_ready = {"statusCode": 503, "error": "Service Unavailable", "message": "not ready yet"}
    recorder.answer((503, not_ready), (503, not_ready), (200, SUCCESS))
    started = time.monotonic()
    report = kibana.setup(make_settings(), recorder.url, wait_seconds=20)
    elapsed = time.monotonic() - started
    assert report.success and report.attempts == 3 and len(recorder.requests) == 3
    # pauses of 1 s then 2 s: the backoff grows, and nothing waits the whole 20 s
    assert 2.5 < elapsed < 10


def test_without_waiting_a_starting_kibana_is_unavailable(recorder, make_settings):
    recorder.answer((503, {"statusCode": 503, "message": "Kibana server is not ready yet"}))
    with pytest.raises(kibana.KibanaUnavailable) as exc:
        kibana.setup(make_settings(), recorder.url)
    assert "503: Kibana server is not ready yet" in _one_line(exc)
    assert len(recorder.requests) == 1


def test_the_wait_is_bounded(recorder, make_settings):
    recorder.answer((503, {"message": "not ready"}))
    started = time.monotonic()
    with pytest.raises(kibana.KibanaUnavailable) as exc:
        kibana.setup(make_settings(), recorder.url, wait_seconds=1.5)
    assert time.monotonic() - started < 5
    assert re.search(r"after [23] attempts in 1.5 s;", _one_line(exc))
    assert 2 <= len(recorder.requests) <= 3


MISSING = {
    "success": False,
    "successCount": len(OBJECTS) - 2,
    "errors": [
        {
            "id": "monitor-vis-volume-source",
            "type": "visualization",
            "title": "Monitor: articles per source (top 10)",
            "meta": {"icon": "visualizeApp", "title": "Monitor: articles per source (top 10)"},
            "error": {
                "type": "missing_references",
                "references": [{"type": "index-pattern", "id": "monitor-data-view"}],
            },
        },
        {
            "id": "monitor-dashboard",
            "type": "dashboard",
            "meta": {"title": "Monitor: articles"},
            "error": {"type": "unknown", "message": "Bad Request", "statusCode": 400},
        },
    ],
}


def test_objects_kibana_rejects_are_reported_one_by_one(recorder, make_settings):
    recorder.answer((200, MISSING))
    report = kibana.setup(make_settings(), recorder.url)
    assert not report.success and report.success_count == len(OBJECTS) - 2
    assert [str(e) for e in report.errors] == [
        "visualization monitor-vis-volume-source (Monitor: articles per source (top 10)): "
        "missing references: index-pattern monitor-data-view",
        "dashboard monitor-dashboard (Monitor: articles): unknown: Bad Request",
    ]
    assert report.summary().endswith(f"{len(OBJECTS) - 2} of {len(OBJECTS)} "
                                      f"saved objects imported into {recorder.url} "
                                      f"(data view {DEFAULT_ALIAS}); 2 failed")  # fmt: skip


# --- the command --------------------------------------------------------------------------


@pytest.fixture
def cli_args(tmp_path, monkeypatch):
    """Global options for an in-process `monitor` on an empty config, no MONITOR_ env."""
    for name in list(os.environ):
        if name.startswith("MONITOR_") and not name.startswith("MONITOR_TEST_"):
            monkeypatch.delenv(name)
    config = tmp_path / "monitor.toml"
    config.write_text("# empty: defaults\n")
    return ["--config", str(config), "--data-dir", str(tmp_path / "data")]


def test_kibana_setup_prints_the_summary(recorder, cli_args, capsys):
    assert main(["kibana", "setup", "--url", recorder.url, *cli_args]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"kibana: {len(OBJECTS)} of {len(OBJECTS)} saved objects imported")
    assert out.count("\n") == 1 and len(recorder.requests) == 1


def test_kibana_setup_takes_the_url_from_the_settings(recorder, cli_args, monkeypatch, capsys):
    monkeypatch.setenv("MONITOR_KIBANA_URL", recorder.url)
    monkeypatch.setenv("MONITOR_ELASTICSEARCH_INDEX", "news-caucasus")
    assert main(["kibana", "setup", *cli_args]) == 0
    assert "(data view news-caucasus)" in capsys.readouterr().out
    _, sent = _uploaded(recorder.requests[0])
    assert sent[0]["attributes"]["title"] == "news-caucasus"


def test_kibana_setup_without_a_url_says_how_to_give_one(cli_args, capsys):
    assert main(["kibana", "setup", *cli_args]) == 2
    err = capsys.readouterr().err
    assert "--url" in err and "MONITOR_KIBANA_URL" in err and err.count("\n") == 1


def test_kibana_setup_lists_rejected_objects_and_fails(recorder, cli_args, capsys):
    recorder.answer((200, MISSING))
    assert main(["kibana", "setup", "--url", recorder.url, *cli_args]) == 1
    captured = capsys.readouterr()
    assert "2 failed" in captured.out
    assert captured.err.count("monitor: kibana: not imported: ") == 2


def test_kibana_setup_on_a_closed_port_exits_1(cli_args, capsys):
    url = closed_port_url()
    assert main(["kibana", "setup", "--url", url, *cli_args]) == 1
    assert f"Kibana at {url} is not available" in capsys.readouterr().err


# --- a real Kibana (only with MONITOR_TEST_KIBANA_URL) ---------------------------------------

REAL_KIBANA = os.environ.get("MONITOR_TEST_KIBANA_URL", "")


@pytest.mark.skipif(not REAL_KIBANA, reason="set MONITOR_TEST_KIBANA_URL to test a real Kibana")
def test_import_into_a_real_kibana_twice(make_settings):
    # Kibana logs in with the Elasticsearch user, so these are the Elasticsearch tests' ones.
    settings = make_settings(
        kibana_url=REAL_KIBANA,
        elasticsearch_username=os.environ.get("MONITOR_TEST_ES_USERNAME", ""),
        elasticsearch_password=os.environ.get("MONITOR_TEST_ES_PASSWORD", ""),
        elasticsearch_api_key=os.environ.get("MONITOR_TEST_ES_API_KEY", ""),
        elasticsearch_ca_certs=os.environ.get("MONITOR_TEST_ES_CA_CERTS", ""),
    )
    for _ in range(2):  # the second import overwrites the same ids: nothing new, no error
        report = kibana.setup(settings, wait_seconds=120)
        assert report.success and not report.errors, report.errors
        assert report.success_count == len(OBJECTS)
    with kibana.build_client(settings) as client:
        base = REAL_KIBANA.rstrip("/")
        response = client.get(f"{base}/api/saved_objects/index-pattern/monitor-data-view")
        assert response.status_code == 200, response.text
        assert response.json()["attributes"]["title"] == settings.elasticsearch_index
        assert response.json()["attributes"]["timeFieldName"] == "published"
        for obj in _of_type("search"):
            response = client.get(f"{base}/api/saved_objects/search/{obj['id']}")
            assert response.status_code == 200, response.text
        response = client.get(f"{base}/api/saved_objects/dashboard/monitor-dashboard")
        assert response.status_code == 200 and not response.json().get("error")


def test_the_daemon_imports_the_objects_at_start_and_survives_a_refusal(
    recorder, make_settings, make_context, caplog
):
    from monitor.daemon import Daemon

    ctx = make_context(make_settings(kibana_url=recorder.url))
    daemon = Daemon(ctx)
    try:
        daemon.setup_kibana(wait_seconds=0)
        assert [r.path for r in recorder.requests] == ["/api/saved_objects/_import"]
        recorder.answer((401, {"statusCode": 401, "message": "Unauthorized"}))
        daemon.setup_kibana(wait_seconds=0)  # logged, not raised
    finally:
        daemon.close()
    events = [r.msg for r in caplog.records]
    assert "kibana_setup" in events and "kibana_setup_failed" in events
