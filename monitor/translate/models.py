"""Argos language packages: what is installed, installing one, making one from OPUS-MT.

Packages live in ``models_dir`` (default ``<data_dir>/models``), one folder each, as
argostranslate lays them out (``ARGOS_PACKAGES_DIR`` is pointed there before it is
imported). Listing reads each package's ``metadata.json`` directly and installing unpacks
the zip here, so neither listing, installing a file nor translating imports
argostranslate (and torch behind it); only the online install reads its index with it.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from monitor.errors import StartupError
from monitor.progress import Progress

INDEX_HINT = (
    "on a machine with internet, download the package from the Argos index "
    "(https://www.argosopentech.com/argospm/index/) and run "
    "`monitor models install PATH.argosmodel` here"
)
INDEX_TIMEOUT_SECONDS = 30  # also the longest wait for the next bytes of a download
CHUNK_BYTES = 1024 * 1024  # read, written and reported 1 MiB at a time
USER_AGENT = "monitor (Argos package download)"
# steps(desc, unit): a progress callback (or None) for each step of a longer job
Steps = Callable[[str, str], "Progress | None"]
NAMES = {"ru": "Russian", "hy": "Armenian", "az": "Azerbaijani", "fa": "Persian", "en": "English"}


@dataclass(frozen=True)
class InstalledModel:
    """One installed package, as far as translation needs it."""

    from_code: str
    to_code: str
    name: str
    version: str
    path: Path

    @property
    def pair(self) -> str:
        """``ru-en``."""
        return f"{self.from_code}-{self.to_code}"

    @property
    def model_dir(self) -> Path:
        """The CTranslate2 model folder."""
        return self.path / "model"

    def spm(self, side: str) -> Path:
        """The SentencePiece model of ``side`` (source/target); Argos packages have one
        for both, converted OPUS-MT packages may have one per side."""
        own = self.path / f"{side}.spm"
        return own if own.exists() else self.path / "sentencepiece.model"


def models_dir(settings) -> Path:
    """Where packages are installed."""
    return settings.models_dir or settings.data_dir / "models"


def use_models_dir(path: Path) -> None:
    """Point argostranslate at ``path``; call before argostranslate is imported."""
    path.mkdir(parents=True, exist_ok=True)
    os.environ["ARGOS_PACKAGES_DIR"] = str(path)


def _argos_package(target: Path):
    """argostranslate.package, installing into ``target``. Its settings are read from the
    environment once, at first import; set them again for this call's folder."""
    use_models_dir(target)
    import argostranslate.package
    import argostranslate.settings

    argostranslate.settings.package_data_dir = target
    argostranslate.settings.package_dirs = [target]
    return argostranslate.package


def installed_models(path: Path) -> list[InstalledModel]:
    """Every valid package under ``path``, sorted by pair (a broken one is skipped)."""
    found = []
    if not path.is_dir():
        return found
    for meta in sorted(path.glob("*/metadata.json")):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            model = InstalledModel(
                data["from_code"],
                data["to_code"],
                meta.parent.name,
                str(data.get("package_version", "?")),
                meta.parent,
            )
        except (OSError, ValueError, KeyError):
            continue
        if model.model_dir.is_dir() and model.spm("source").exists():
            found.append(model)
    return sorted(found, key=lambda m: (m.pair, m.version))


def find_model(path: Path, from_code: str, to_code: str = "en") -> InstalledModel | None:
    """The installed package for a pair (the highest version), or None."""
    matches = [
        m for m in installed_models(path) if (m.from_code, m.to_code) == (from_code, to_code)
    ]
    return matches[-1] if matches else None


def check_package_file(path: Path) -> dict:
    """The metadata of an ``.argosmodel`` file, or a StartupError saying what is wrong."""
    if not path.is_file():
        raise StartupError(f"{path} does not exist; give the path of an .argosmodel file")
    try:
        with zipfile.ZipFile(path) as archive:
            metas = [
                n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/metadata.json")
            ]
            if not metas:
                raise StartupError(f"{path} has no <folder>/metadata.json: not an Argos package")
            data = json.loads(archive.read(metas[0]))
            top = metas[0].split("/")[0]
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise StartupError(f"{path} is not a zip file: not an Argos package") from None
    except ValueError as exc:
        raise StartupError(f"{path}: metadata.json is not valid JSON ({exc})") from None
    missing = [k for k in ("from_code", "to_code", "package_version") if k not in data]
    if missing:
        raise StartupError(f"{path}: metadata.json lacks {', '.join(missing)}")
    if not any(n.startswith(f"{top}/model/") for n in names):
        raise StartupError(f"{path} has no {top}/model/ folder (the CTranslate2 model)")
    return data


def install_file(path: Path, target: Path, progress: Progress | None = None) -> InstalledModel:
    """Install an ``.argosmodel`` file into ``target``; returns what was installed.
    ``progress`` hears (bytes unpacked, bytes to unpack)."""
    data = check_package_file(path)
    unpack(path, target, progress)
    model = find_model(target, data["from_code"], data["to_code"])
    if model is None:
        raise StartupError(f"{path} was unpacked but no valid package appeared in {target}")
    return model


def unpack(path: Path, target: Path, progress: Progress | None = None) -> Path:
    """Unpack the package's folder into ``target``, as argostranslate's install does, but
    in a hidden folder first, moved into place whole: a running daemon never sees half a
    package, and a reinstalled version replaces the old folder. Returns the folder."""
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path) as archive:
        top = next(
            n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/metadata.json")
        ).split("/")[0]
        members = [m for m in archive.infolist() if m.filename.startswith(f"{top}/")]
        for member in members:
            parts = PurePosixPath(member.filename).parts
            if member.filename.startswith("/") or ".." in parts or "\\" in member.filename:
                raise StartupError(f"{path}: unsafe file name {member.filename!r} in the package")
        total, done = sum(m.file_size for m in members if not m.is_dir()), 0
        work = Path(tempfile.mkdtemp(prefix=".install-", dir=target))
        try:
            if progress:
                progress(0, total)
            for member in members:
                out = work.joinpath(*PurePosixPath(member.filename).parts)
                if member.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, out.open("wb") as dst:
                    done = _copy(src, dst, done, total, progress)
            final = target / top
            if final.exists():
                final.rename(work / ".replaced")  # removed with the work folder
            (work / top).rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


def _copy(src, dst, done: int, total: int, progress: Progress | None) -> int:
    """Copy ``src`` to ``dst`` a chunk at a time, telling ``progress`` (bytes so far,
    ``total``) after each; returns the bytes so far."""
    while chunk := src.read(CHUNK_BYTES):
        dst.write(chunk)
        done += len(chunk)
        if progress:
            progress(done, total)
    return done


def download(links: list[str], dest: Path, progress: Progress | None = None) -> Path:
    """Download a package to ``dest`` from the first of ``links`` that answers, streamed
    (argostranslate's own download holds the whole file in memory, without a timeout).
    A finished download is reused; a cut one never is (it is written beside, then moved).
    ``progress`` hears (bytes received, Content-Length or 0)."""
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    errors = []
    for url in links:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=INDEX_TIMEOUT_SECONDS) as response:
                total = int(response.headers.get("Content-Length") or 0)
                with part.open("wb") as out:
                    done = _copy(response, out, 0, total, progress)
            if total and done != total:
                raise OSError(f"got {done} of {total} bytes")
        except (OSError, ValueError, http.client.HTTPException) as exc:
            errors.append(f"{url}: {exc}")
            continue
        part.rename(dest)
        return dest
    part.unlink(missing_ok=True)
    raise OSError("; ".join(errors) or "the package lists no download link")


def install_from_index(
    codes: list[str], target: Path, to_code: str = "en", steps: Steps | None = None
) -> list[InstalledModel]:
    """Download and install ``code→en`` packages from the Argos index (needs internet).
    ``steps(desc, unit)`` gives a progress callback (or None) for each download and
    each unpacking."""
    package = _argos_package(target)
    import argostranslate.settings

    # argostranslate's update_package_index() logs a network error and carries on with a
    # stale or missing index; fetch it ourselves so that offline says so.
    url = argostranslate.settings.remote_package_index
    try:
        with urllib.request.urlopen(url, timeout=INDEX_TIMEOUT_SECONDS) as response:
            index = response.read()
        json.loads(index)
    except (OSError, ValueError) as exc:
        raise StartupError(
            f"cannot reach the Argos package index at {url} ({exc}); {INDEX_HINT}"
        ) from None
    local = Path(argostranslate.settings.local_package_index)
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(index)
    available = package.get_available_packages()
    installed = []
    for code in codes:
        matches = [p for p in available if (p.from_code, p.to_code) == (code, to_code)]
        if not matches:
            hint = (
                "Armenian has no package in the Argos index: convert an OPUS-MT model with "
                "`monitor models convert-opus-mt` (README, Translation)"
                if code == "hy"
                else "check the language code"
            )
            raise StartupError(f"the Argos index has no {code}→{to_code} package; {hint}")
        best = max(matches, key=lambda p: str(p.package_version))
        # the version in the name: a cached older download is never taken for a newer one
        name = f"{package.argospm_package_name(best)}-{best.package_version}.argosmodel"
        pair = f"{code}→{to_code}"
        try:
            file = download(
                list(best.links),
                Path(argostranslate.settings.downloads_dir) / name,
                steps(f"download {pair}", "MB") if steps else None,
            )
        except OSError as exc:
            raise StartupError(f"downloading {pair} failed ({exc}); {INDEX_HINT}") from None
        installed.append(
            install_file(file, target, steps(f"install {pair}", "MB") if steps else None)
        )
        file.unlink()  # installed: the copy in the download cache is ~100 MB for nothing
    return installed


def convert_opus_mt(
    source_dir: Path, from_code: str, to_code: str, out: Path, version: str = "1.0"
) -> Path:
    """Make an ``.argosmodel`` from a downloaded OPUS-MT (Marian) model folder, with the
    converter that ships with CTranslate2. Returns the package file."""
    # decoder.yml names the .npz model and the vocabularies; the converter reads it.
    needed = ["decoder.yml", "source.spm", "target.spm"]
    missing = [n for n in needed if not (source_dir / n).exists()]
    if not missing:
        missing = _missing_from_decoder_yml(source_dir)
    if missing:
        raise StartupError(
            f"{source_dir} is not a complete OPUS-MT model folder (the unzipped Marian "
            f"release): missing {', '.join(missing)}"
        )
    from ctranslate2.converters import OpusMTConverter

    name = f"translate-{from_code}_{to_code}-opus-mt"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / name
        OpusMTConverter(str(source_dir)).convert(str(root / "model"), quantization="int8")
        for spm in needed:
            shutil.copy(source_dir / spm, root / spm)
        shutil.copy(source_dir / "source.spm", root / "sentencepiece.model")
        metadata = {
            "package_version": version,
            "argos_version": "1.0",
            "type": "translate",
            "from_code": from_code,
            "from_name": NAMES.get(from_code, from_code),
            "to_code": to_code,
            "to_name": NAMES.get(to_code, to_code),
            "source": "OPUS-MT (Helsinki-NLP), converted by monitor with CTranslate2",
        }
        (root / "metadata.json").write_text(json.dumps(metadata, indent=2))
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(root.rglob("*")):
                archive.write(file, file.relative_to(tmp))
    return out


def _missing_from_decoder_yml(source_dir: Path) -> list[str]:
    import yaml

    try:
        config = yaml.safe_load((source_dir / "decoder.yml").read_text(encoding="utf-8"))
        files = [*config["models"], *config["vocabs"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        return [f"a readable decoder.yml ({exc})"]
    return [f for f in files if not (source_dir / f).exists()]
