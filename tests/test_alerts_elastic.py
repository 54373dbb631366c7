"""The alert case table against a real Elasticsearch percolator index: both engines must
agree on every row. Runs whenever MONITOR_TEST_ES_URL is set (see
tests/test_elastic_integration.py for the credentials variables) and skips otherwise:
no Elasticsearch can be installed where this project is built, and none is imitated."""

from __future__ import annotations

import uuid

import pytest

from monitor.alerts.evaluate import matches
from monitor.alerts.lucene import parse
from monitor.alerts.percolator import Percolator, rules_index
from monitor.alerts.rules import Rule
from monitor.store.elastic.store import ElasticStore
from tests.alert_cases import CASES, DOCUMENTS
from tests.test_elastic_integration import ES_URL, _es_overrides

pytestmark = pytest.mark.skipif(
    not ES_URL,
    reason="MONITOR_TEST_ES_URL is not set: the percolator needs a real Elasticsearch "
    "(none can be installed here; the hosted CI workflow provides one)",
)


@pytest.fixture(scope="module")
def percolated(tmp_path_factory):
    """Every case's rule in one percolator index; every document percolated once."""
    from monitor.settings import load_settings
    from monitor.state import StateDB

    alias = f"monitor-test-{uuid.uuid4().hex[:8]}"
    settings = load_settings(None, _es_overrides(alias), environ={})
    state = StateDB(tmp_path_factory.mktemp("perc") / "state.sqlite3")
    store = ElasticStore(settings, state, lambda: None)
    rules = [Rule(name=case.id, query=case.rule, node=parse(case.rule)) for case in CASES]
    percolator = Percolator(store, settings)
    names = list(DOCUMENTS)
    try:
        found = percolator.match(rules, [DOCUMENTS[n] for n in names])
        yield {(rule.name, names[slot]) for rule, slot in found}
    finally:
        store.client.indices.delete(index=rules_index(alias), ignore_unavailable=True)
        store.close()
        state.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_percolator_agrees_with_the_evaluator(percolated, case):
    by_evaluator = matches(parse(case.rule), DOCUMENTS[case.doc]) is not None
    by_elasticsearch = (case.id, case.doc) in percolated
    assert (by_evaluator, by_elasticsearch) == (case.match, case.match), case.rule
