"""The ``monitor`` command line: the parser, start-up, and dispatch to command modules.

Global options come before or after the command: ``--config PATH``, ``--data-dir DIR``,
``--set KEY=VALUE`` (any setting), ``--log-level``, ``--log-format``. A configuration
error prints one line naming the key and the fix, and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

from monitor import __version__
from monitor.errors import KibanaUnavailable, QueryError, StartupError, StoreUnavailable

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 1


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also read by the documentation test)."""
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("global options")
    g.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="settings file (default config/monitor.toml; env MONITOR_CONFIG)",
    )
    g.add_argument(
        "--data-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="data folder (env MONITOR_DATA_DIR)",
    )
    g.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=argparse.SUPPRESS,
        help="override any setting; repeatable",
    )
    g.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default=argparse.SUPPRESS,
        help="log level",
    )
    g.add_argument(
        "--log-format", choices=["text", "json"], default=argparse.SUPPRESS, help="log line format"
    )

    parser = argparse.ArgumentParser(
        prog="monitor",
        parents=[common],
        description="Multilingual media monitoring for the South Caucasus.",
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    shard = argparse.ArgumentParser(add_help=False)
    shard.add_argument(
        "--shard",
        metavar="I/N",
        default=argparse.SUPPRESS,
        help="only this share of the feeds, e.g. 2/3 (setting `shard`)",
    )

    def command(name, help_text, parent=sub, parents=(common,)):
        return parent.add_parser(name, parents=list(parents), help=help_text, description=help_text)

    command(
        "run",
        "run the daemon: poll feeds on schedule until SIGTERM/SIGINT",
        parents=(common, shard),
    )

    p = command(
        "status",
        "feeds, store, outbox, translation backlog and alert channels",
        parents=(common, shard),
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")

    command("health", "ask the running daemon's /healthz; exit 0 when ready (health checks)")

    p = command("poll", "poll feeds once and exit", parents=(common, shard))
    p.add_argument(
        "--once",
        action="store_true",
        required=True,
        help="one pass over the due feeds (required; the daemon is `monitor run`)",
    )
    p.add_argument(
        "--feed",
        metavar="NAME",
        action="append",
        help="poll this feed (name or URL) whether due or not; repeatable",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per feed")

    p = command("search", "search stored articles and seed documents")
    p.add_argument("query", nargs="?", default="", help="query string (empty: newest first)")
    p.add_argument("--lang", action="append", help="only this language (ru, hy, az, fa, en)")
    p.add_argument("--source", action="append", help="only this source (feed name)")
    p.add_argument("--kind", action="append", choices=["article", "seed"], help="only this kind")
    p.add_argument("--since", help="published at or after: 24h, 7d, 90m or an ISO date")
    p.add_argument("--until", help="published before: same forms as --since")
    p.add_argument("--limit", type=int, default=20, help="hits per page (default 20)")
    p.add_argument("--page", type=int, default=1, help="page number, from 1")
    p.add_argument(
        "--sort",
        choices=["relevance", "date"],
        default="relevance",
        help="order of hits (default relevance; date without a query)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per hit")

    p = command("stories", "stories (copies and translations of one piece of news), biggest first")
    p.add_argument("story", nargs="?", help="show this story's reports instead of the list")
    p.add_argument("--since", default="24h", help="last report at or after (default 24h)")
    p.add_argument("--min-size", type=int, default=1, help="only stories of this many reports")
    p.add_argument("--limit", type=int, default=50, help="stories to list (default 50)")
    p.add_argument("--json", action="store_true", help="one JSON object per story")

    p = command("stats", "counts by language, source and kind; duplicates; failing feeds")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    feeds = command("feeds", "list, check and import feeds")
    fsub = feeds.add_subparsers(dest="feeds_command", metavar="SUBCOMMAND", required=True)
    p = command("list", "list the feeds with their state", fsub)
    p.add_argument("--json", action="store_true", help="one JSON object per feed")
    p = command("check", "fetch and parse a feed once; print what would be stored", fsub)
    p.add_argument("url", help="feed URL")
    p.add_argument(
        "--language",
        choices=["ru", "hy", "az", "fa", "en"],
        help="declared language (default: the feed's own, else ru)",
    )
    p.add_argument("--limit", type=int, default=10, help="articles to show (default 10)")
    p.add_argument(
        "--full-text",
        action="store_true",
        help="also fetch the first articles' pages and show the extracted text",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per article")
    p = command("import-opml", "add the feeds of an OPML file to the data folder", fsub)
    p.add_argument("file", help="OPML file")
    p.add_argument(
        "--language",
        choices=["ru", "hy", "az", "fa", "en"],
        help="language of outlines without a language attribute",
    )

    p = command("fulltext", "article pages (feeds with full_text on)")
    p.add_argument(
        "--retry-failed",
        action="store_true",
        required=True,
        help="fetch again the pages that failed (timeouts, errors, empty pages)",
    )
    p.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")

    models = command("models", "translation models (Argos packages)")
    msub = models.add_subparsers(dest="models_command", metavar="SUBCOMMAND", required=True)
    p = command("list", "installed packages per language pair, and what is missing", msub)
    p.add_argument("--json", action="store_true", help="one JSON object per package")
    p = command("install", "install packages: language codes (online) or .argosmodel files", msub)
    p.add_argument("what", nargs="+", help="ru az fa ... or PATH.argosmodel")
    p = command("convert-opus-mt", "make an .argosmodel from a downloaded OPUS-MT model", msub)
    p.add_argument("dir", help="folder of the OPUS-MT model (.npz, vocab .yml, .spm files)")
    p.add_argument("--from", dest="from_code", required=True, help="source language, e.g. hy")
    p.add_argument("--to", dest="to_code", default="en", help="target language (default en)")
    p.add_argument("--out", help="package file to write (default translate-FROM_TO-opus-mt...)")

    p = command("translate", "translate stored articles that wait for it")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--pending",
        action="store_true",
        help="articles waiting for a model (after `monitor models install`)",
    )
    group.add_argument(
        "--retry-failed", action="store_true", help="articles whose translation failed"
    )
    p.add_argument("--limit", type=int, default=100000, help="at most this many articles")

    seed = command("seed", "the seed corpus")
    ssub = seed.add_subparsers(dest="seed_command", metavar="SUBCOMMAND", required=True)
    p = command("load", "index the seed corpus (idempotent)", ssub)
    p.add_argument("dir", nargs="?", help="folder of .txt files (default: the packaged copy)")

    config = command("config", "settings")
    csub = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    p = command("show", "print the effective settings, secrets redacted", csub)
    p.add_argument("--json", action="store_true", help="print JSON instead of TOML")

    quarantine = command("quarantine", "articles that broke a stage")
    qsub = quarantine.add_subparsers(dest="quarantine_command", metavar="SUBCOMMAND", required=True)
    p = command("list", "list quarantined articles with their error", qsub)
    p.add_argument("--json", action="store_true", help="one JSON object per article")
    command(
        "replay",
        "run quarantined articles through the pipeline again; translation failures are "
        "translated again",
        qsub,
    )

    outbox = command("outbox", "writes waiting for Elasticsearch")
    osub = outbox.add_subparsers(dest="outbox_command", metavar="SUBCOMMAND", required=True)
    p = command("show", "how many writes wait, and the rejected ones with their errors", osub)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    command("flush", "send the waiting writes now (the daemon does this by itself)", osub)
    command("retry", "queue the rejected writes again (after fixing their cause)", osub)

    alerts = command("alerts", "keyword alerts: rules, dry runs, history")
    asub = alerts.add_subparsers(dest="alerts_command", metavar="SUBCOMMAND", required=True)
    p = command("list", "the rules and channels of the alerts file (checks them)", asub)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p = command("test", "which stored articles a query would alert on (either store)", asub)
    p.add_argument("query", help="a rule query (Lucene syntax, as in the alerts file)")
    p.add_argument("--scan", type=int, default=5000, help="newest articles to test (5000)")
    p.add_argument("--limit", type=int, default=20, help="matches to show (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON object per match")
    p = command("history", "alerts sent or waiting, newest first, with each delivery", asub)
    p.add_argument("--limit", type=int, default=50, help="alerts to show (default 50)")
    p.add_argument("--json", action="store_true", help="one JSON object per alert")
    p = command("retry", "send again the deliveries that were given up", asub)
    p.add_argument("--channel", help="only this channel")

    kibana = command("kibana", "Kibana data view, saved searches and dashboard")
    ksub = kibana.add_subparsers(dest="kibana_command", metavar="SUBCOMMAND", required=True)
    p = command("setup", "import the saved objects of config/kibana (idempotent)", ksub)
    p.add_argument("--url", help="Kibana's URL (default: setting kibana_url)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``monitor`` console script."""
    args = build_parser().parse_args(argv)
    from monitor import commands

    try:
        return commands.dispatch(args) or 0
    except StartupError as exc:
        print(f"monitor: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except QueryError as exc:
        print(f"monitor: bad query: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreUnavailable as exc:
        what = "kibana" if isinstance(exc, KibanaUnavailable) else "store"
        print(f"monitor: {what} unavailable: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `monitor search ... | head`
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
