"""``monitor kibana setup``: import the data view, saved searches and dashboard into Kibana.

Needs no store: it reads the settings (Kibana's URL, credentials, TLS, the alias) and
talks to Kibana only.
"""

from __future__ import annotations

import sys

from monitor import kibana
from monitor.commands import settings_from


def dispatch(args) -> int:
    """Import the saved objects; 1 when Kibana rejected some of them (listed on stderr)."""
    settings = settings_from(args)
    report = kibana.setup(settings, args.url)
    print(report.summary())
    for error in report.errors:
        print(f"monitor: kibana: not imported: {error}", file=sys.stderr)
    return 0 if report.success and not report.errors else 1
