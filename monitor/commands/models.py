"""``monitor models list|install|convert-opus-mt``: Argos packages for translation."""

from __future__ import annotations

from pathlib import Path

from monitor.commands import emit_json, settings_from
from monitor.errors import StartupError
from monitor.feeds import LANGUAGES
from monitor.progress import bars
from monitor.translate.models import (
    INDEX_HINT,
    convert_opus_mt,
    install_file,
    install_from_index,
    installed_models,
    models_dir,
)


def dispatch(args) -> int:
    """Run a ``models`` subcommand."""
    settings = settings_from(args)
    target = models_dir(settings)
    if args.models_command == "list":
        return _list(target, args.json)
    if args.models_command == "install":
        for item in args.what:
            if item in LANGUAGES:
                with bars() as bar:
                    models = install_from_index([item], target, steps=bar)
            elif item.endswith(".argosmodel") or "/" in item or Path(item).exists():
                with bars() as bar:
                    models = [
                        install_file(Path(item), target, bar(f"install {Path(item).name}", "MB"))
                    ]
            else:
                raise StartupError(
                    f"{item!r} is neither a language code ({', '.join(LANGUAGES)}) nor an "
                    ".argosmodel file"
                )
            for model in models:
                print(f"installed {model.pair} {model.name} {model.version} into {target}")
        return 0
    out = Path(args.out or f"translate-{args.from_code}_{args.to_code}-opus-mt.argosmodel")
    convert_opus_mt(Path(args.dir), args.from_code, args.to_code, out)
    print(f"wrote {out}; install it with `monitor models install {out}`")
    return 0


def _list(target: Path, as_json: bool) -> int:
    models = installed_models(target)
    if as_json:
        for m in models:
            emit_json(
                {"pair": m.pair, "package": m.name, "version": m.version, "path": str(m.path)}
            )
        return 0
    have = {m.from_code for m in models if m.to_code == "en"}
    print(f"packages in {target}:")
    for m in models:
        print(f"  {m.pair}  {m.name}  version {m.version}")
    for code in (c for c in LANGUAGES if c != "en" and c not in have):
        how = (
            "`monitor models convert-opus-mt` (no Argos package exists; README, Translation)"
            if code == "hy"
            else f"`monitor models install {code}`, or {INDEX_HINT}"
        )
        print(f"  {code}-en  missing: articles stay pending until installed; {how}")
    return 0
