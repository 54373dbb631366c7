"""``monitor config show``: the effective settings, secrets redacted."""

from __future__ import annotations

import json

from monitor.commands import settings_from


def dispatch(args) -> int:
    """Print the settings as TOML (or JSON) that could be pasted into monitor.toml."""
    values = settings_from(args).redacted()
    if args.json:
        print(json.dumps(values, ensure_ascii=False, indent=2))
        return 0
    for key, value in values.items():
        if value is None:
            print(f"# {key} = (not set)")
        else:
            print(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return 0
