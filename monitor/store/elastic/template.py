"""What the daemon installs in Elasticsearch: analyzers, mappings, templates, ILM policy.

Pure functions returning the bodies of the documented APIs (component templates,
composable index template, ILM policy, first index), so tests can check what is sent.

The original text is kept once in ``title``/``text`` and analyzed several ways through
multi-fields: ``text`` itself with a language-neutral chain (case, Persian/Arabic letter
forms, digits of every script, Latin diacritics), ``text.ru``/``text.hy``/``text.fa``
under Elasticsearch's built-in russian, armenian and persian analyzers, and ``text.az``
under our own chain (there is no built-in Azerbaijani analyzer). A field cannot pick its
analyzer per document, and copying the text per language would double ``_source``;
multi-fields cost index terms instead, and each language's analyzer leaves the other
scripts' words as they are. The English translation is under the english analyzer.
"""

from __future__ import annotations

from typing import Any

# Languages with an analyzed sub-field of the original text, and their analyzers.
LANGUAGE_ANALYZERS = {
    "ru": "russian",
    "hy": "armenian",
    "fa": "persian",
    "az": "monitor_azerbaijani",
}
KEYWORD_FIELDS = (
    "id", "kind", "language", "language_declared", "language_detected", "language_method",
    "source", "feed_id", "country", "content_hash", "id_source", "published_source",
    "text_source", "fulltext_status", "translation_status", "translation_engine",
    "translation_package", "translation_version", "translation_flags", "story_id",
    "related_seed_ids", "alerts", "seed_file",
)  # fmt: skip
DATE_FIELDS = ("published", "fetched_at", "translated_at")


def analysis() -> dict[str, Any]:
    """The custom analyzers: the language-neutral one and the Azerbaijani chain."""
    return {
        "filter": {
            # Azerbaijani, like Turkish, has dotted and dotless i: I→ı and İ→i.
            "monitor_turkic_lowercase": {"type": "lowercase", "language": "turkish"},
            # "Susa" finds "Şuşa"; the original form is kept so exact spelling ranks first.
            "monitor_folding": {"type": "asciifolding", "preserve_original": True},
        },
        "char_filter": {
            # ZWNJ joins the halves of Persian words; as a space both halves are found.
            "monitor_zwnj": {"type": "mapping", "mappings": ["\\u200C=>\\u0020"]},
        },
        "analyzer": {
            "monitor_text": {
                "type": "custom",
                "char_filter": ["monitor_zwnj"],
                "tokenizer": "standard",
                "filter": [
                    "lowercase",
                    "decimal_digit",  # ۱۴۰۳ and 1403 are the same number
                    "arabic_normalization",
                    "persian_normalization",
                    "monitor_folding",
                ],
            },
            "monitor_azerbaijani": {
                "type": "custom",
                "tokenizer": "standard",
                # No stemmer: Snowball's Turkish one knows -ler but not -lər, and would
                # stem Azerbaijani unevenly; prefix queries (Zəngəzur*) cover inflection.
                "filter": ["monitor_turkic_lowercase", "decimal_digit", "monitor_folding"],
            },
        },
    }


def _original_text() -> dict[str, Any]:
    return {
        "type": "text",
        "analyzer": "monitor_text",
        "fields": {
            code: {"type": "text", "analyzer": analyzer}
            for code, analyzer in LANGUAGE_ANALYZERS.items()
        },
    }


def mappings() -> dict[str, Any]:
    """Field mappings of the article and seed documents."""
    properties: dict[str, Any] = {name: {"type": "keyword"} for name in KEYWORD_FIELDS}
    properties.update({name: {"type": "date"} for name in DATE_FIELDS})
    properties.update(
        title=_original_text(),
        text=_original_text(),
        summary={"type": "text", "analyzer": "monitor_text"},
        title_en={"type": "text", "analyzer": "english"},
        text_en={"type": "text", "analyzer": "english"},
        url={"type": "keyword", "ignore_above": 2048},
        author={"type": "text", "analyzer": "monitor_text"},
        language_mismatch={"type": "boolean"},
        page_chars={"type": "integer"},
        story_size={"type": "integer"},
        translation_seconds={"type": "float"},
        translation_reason={"type": "keyword", "ignore_above": 512},
        translation_error={"type": "keyword", "ignore_above": 1024},
    )
    return {
        # Fields added later (by new stages) become keywords, not text + keyword pairs;
        # a long value is kept in _source but not indexed.
        "dynamic_templates": [
            {
                "strings_as_keywords": {
                    "match_mapping_type": "string",
                    "mapping": {"type": "keyword", "ignore_above": 1024},
                }
            }
        ],
        "properties": properties,
    }


def names(alias: str) -> dict[str, str]:
    """The names of everything the daemon creates for one alias."""
    return {
        "settings": f"{alias}-settings",
        "mappings": f"{alias}-mappings",
        "template": alias,
        "policy": f"{alias}-policy",
        "first_index": f"{alias}-000001",
        "pattern": f"{alias}-*",
    }


def component_templates(settings, ilm: bool) -> dict[str, dict[str, Any]]:
    """Component templates by name: one for index settings, one for mappings."""
    n = names(settings.elasticsearch_index)
    index: dict[str, Any] = {
        "number_of_shards": 1,  # a news index grows by GB per year: one shard suffices
        "number_of_replicas": settings.elasticsearch_replicas,
        "analysis": analysis(),
    }
    if ilm:
        index["lifecycle"] = {
            "name": n["policy"],
            "rollover_alias": settings.elasticsearch_index,
        }
    return {
        n["settings"]: {"template": {"settings": {"index": index}}},
        n["mappings"]: {"template": {"mappings": mappings()}},
    }


def index_template(settings) -> dict[str, Any]:
    """The composable index template applied to every index behind the alias."""
    n = names(settings.elasticsearch_index)
    return {
        "index_patterns": [n["pattern"]],
        "composed_of": [n["settings"], n["mappings"]],
        # Above the built-in templates (priority 100 and below) so ours always wins.
        "priority": 200,
        "_meta": {"managed_by": "monitor", "version": TEMPLATE_VERSION},
    }


# Bumped when the mappings or analyzers change, so that the daemon knows to update the
# templates (new indices pick them up at the next rollover).
TEMPLATE_VERSION = 1


def ilm_policy(settings) -> dict[str, Any]:
    """Roll the write index over by age or size; nothing is ever deleted by us."""
    return {
        "phases": {
            "hot": {
                "actions": {
                    "rollover": {
                        "max_age": f"{settings.elasticsearch_rollover_max_age_days}d",
                        "max_primary_shard_size": (
                            f"{settings.elasticsearch_rollover_max_primary_gb}gb"
                        ),
                    }
                }
            }
        },
        "_meta": {"managed_by": "monitor"},
    }


def first_index(settings) -> tuple[str, dict[str, Any]]:
    """The first index's name and body: the alias points at it as the write index."""
    n = names(settings.elasticsearch_index)
    body = {"aliases": {settings.elasticsearch_index: {"is_write_index": True}}}
    return n["first_index"], body
