"""The Argos package builder (tests/fixtures/argos_model.py) makes a REAL package: argostranslate
installs it into a private folder, CTranslate2 runs it, and argostranslate's own translate call
works with no network. Needs the translation stack (ctranslate2, sentencepiece, argostranslate),
skipped otherwise.

argostranslate reads its folders from the environment when it is imported, so everything that
goes through argostranslate runs once, in a subprocess with a private environment; the tests
read its JSON report.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ctranslate2 = pytest.importorskip("ctranslate2")
spm = pytest.importorskip("sentencepiece")
pytest.importorskip("argostranslate")

from tests.fixtures.argos_model import (  # noqa: E402
    build_package,
    build_transformer_spec,
    load_corpus,
    model_vocabulary,
    package_name,
)

MAX_DECODING_LENGTH = 16

RU_ARTICLE = (
    "Министр иностранных дел Армении провёл переговоры в Вашингтоне. "
    "Стороны договорились продолжить работу! Что дальше?\n"
    "Рост ВВП составил 5.2 процента."
)
HY_TEXT = "Երևանում մեկնարկել է միջազգային համաժողով։"
MIXED_TEXT = "Рост 5.2 процента. Երևանում է։ Bakıda forum keçirilib! آیا توافق شد؟ Next"

# Runs in a fresh interpreter: the network is refused (and every attempt recorded) BEFORE
# argostranslate is imported, then the two packages are installed through argostranslate's own
# code and translated through its own translate call.
_ARGOS_SCRIPT = r"""
import json, socket, sys

attempts = []

def refuse(*args, **kwargs):
    attempts.append(repr(args)[:200])
    raise OSError("network refused by test")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

import argostranslate.package as package
import argostranslate.settings as settings
import argostranslate.translate as translate

report = {"package_data_dir": str(settings.package_data_dir),
          "package_dirs": [str(d) for d in settings.package_dirs],
          "chunk_type": settings.chunk_type.name}
for path in sys.argv[2:]:
    package.install_from_path(path)
report["installed"] = [
    {"from_code": p.from_code, "to_code": p.to_code, "package_version": p.package_version,
     "type": p.type, "path": str(p.package_path),
     "sbd": None if p.packaged_sbd_path is None else p.packaged_sbd_path.name}
    for p in package.get_installed_packages()
]
texts = json.loads(sys.argv[1])
translation = translate.get_translation_from_codes("ru", "en")
report["sentences"] = translation.underlying.sentencizer.split_sentences(texts["ru"].split("\n")[0])
report["mixed_sentences"] = translation.underlying.sentencizer.split_sentences(texts["mixed"])
report["sentencizer"] = type(translation.underlying.sentencizer).__name__
report["ru"] = translate.translate(texts["ru"], "ru", "en")
report["attempts_after_ru"] = list(attempts)
try:
    report["hy"] = translate.translate(texts["hy"], "hy", "en")
except Exception as exc:
    report["hy_error"] = f"{type(exc).__name__}: {exc}"
report["attempts"] = attempts
print(json.dumps(report, ensure_ascii=False))
"""


@pytest.fixture(scope="session")
def packages(tmp_path_factory) -> dict[str, Path]:
    """The tiny ru->en package (with its sentence splitter), and a hy->en one without."""
    out = tmp_path_factory.mktemp("argos-build")
    return {
        "ru": build_package(out, "ru"),
        "hy": build_package(out, "hy", seed=1, sentence_splitter=False),
    }


@pytest.fixture(scope="session")
def argos_run(packages, tmp_path_factory) -> dict:
    """Install both packages into a private folder and translate, in a subprocess."""
    home = tmp_path_factory.mktemp("argos-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOS_", "SNAP"))}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        ARGOS_PACKAGES_DIR=str(home / "packages"),
        ARGOS_DEVICE_TYPE="cpu",
    )
    texts = json.dumps({"ru": RU_ARTICLE, "hy": HY_TEXT, "mixed": MIXED_TEXT}, ensure_ascii=False)
    result = subprocess.run(
        [sys.executable, "-c", _ARGOS_SCRIPT, texts, str(packages["ru"]), str(packages["hy"])],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["home"] = str(home)
    return report


def installed_dir(report: dict, from_code: str) -> Path:
    (entry,) = [p for p in report["installed"] if p["from_code"] == from_code]
    return Path(entry["path"])


def test_package_layout(packages):
    with zipfile.ZipFile(packages["ru"]) as z:
        names = set(z.namelist())
        metadata = json.loads(z.read(f"{package_name('ru')}/metadata.json"))
    top = package_name("ru", "en", "1.0")
    assert packages["ru"].name == f"{top}.argosmodel"
    assert {n.split("/")[0] for n in names} == {top}
    for name in (
        "metadata.json",
        "sentencepiece.model",
        "model/model.bin",
        "model/config.json",
        "model/shared_vocabulary.json",
        "minisbd/ru.onnx",
    ):
        assert f"{top}/{name}" in names
    assert metadata == {
        "package_version": "1.0",
        "argos_version": "1.9",
        "from_code": "ru",
        "from_name": "Russian",
        "to_code": "en",
        "to_name": "English",
        "type": "translate",
        "links": [],
    }
    with zipfile.ZipFile(packages["hy"]) as z:
        assert not any("/minisbd/" in n for n in z.namelist())


def test_installs_into_private_packages_dir(argos_run):
    home = Path(argos_run["home"])
    assert argos_run["package_dirs"] == [str(home / "packages")]
    installed = {p["from_code"]: p for p in argos_run["installed"]}
    assert set(installed) == {"ru", "hy"}
    ru = installed["ru"]
    assert (ru["to_code"], ru["package_version"], ru["type"]) == ("en", "1.0", "translate")
    assert Path(ru["path"]) == home / "packages" / package_name("ru")
    assert ru["sbd"] == "minisbd"
    assert installed["hy"]["sbd"] is None


def test_ctranslate2_translates_a_batch(argos_run):
    package_dir = installed_dir(argos_run, "ru")
    sp = spm.SentencePieceProcessor(model_file=str(package_dir / "sentencepiece.model"))
    translator = ctranslate2.Translator(
        str(package_dir / "model"), device="cpu", compute_type="int8"
    )
    sentences = load_corpus()[:3]
    tokens = sp.encode(sentences, out_type=str)
    results = translator.translate_batch(tokens, max_decoding_length=MAX_DECODING_LENGTH)
    assert len(results) == 3
    vocabulary = set(json.loads((package_dir / "model" / "shared_vocabulary.json").read_text()))
    for result in results:
        hypothesis = result.hypotheses[0]
        assert 0 < len(hypothesis) <= MAX_DECODING_LENGTH
        assert set(hypothesis) <= vocabulary
    assert isinstance(sp.decode(results[0].hypotheses[0]), str)


def test_translating_opens_no_socket(argos_run, monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network refused by test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9))
    attempts.clear()

    package_dir = installed_dir(argos_run, "ru")
    sp = spm.SentencePieceProcessor(model_file=str(package_dir / "sentencepiece.model"))
    translator = ctranslate2.Translator(
        str(package_dir / "model"), device="cpu", compute_type="int8"
    )
    tokens = sp.encode(load_corpus()[60:63], out_type=str)
    results = translator.translate_batch(tokens, max_decoding_length=MAX_DECODING_LENGTH)
    assert [len(r.hypotheses) for r in results] == [1, 1, 1]
    assert attempts == []


def test_argostranslate_own_translate_works_offline(argos_run):
    # the packaged minisbd/ splitter is used, and nothing tried the network
    assert argos_run["chunk_type"] == "ARGOSTRANSLATE"
    assert argos_run["sentencizer"] == "MiniSBDSentencizer"
    assert argos_run["sentences"] == [
        "Министр иностранных дел Армении провёл переговоры в Вашингтоне.",
        "Стороны договорились продолжить работу!",
        "Что дальше?",
    ]
    assert argos_run["attempts_after_ru"] == []
    translated = argos_run["ru"]
    assert isinstance(translated, str) and translated.strip()
    assert translated.count("\n") == RU_ARTICLE.count("\n")  # paragraphs kept


def test_without_splitter_argostranslate_wants_to_download_one(argos_run):
    # a package with no minisbd/ (nor stanza/) folder: argostranslate 1.11 defaults to MiniSBD
    # and downloads the model from GitHub on the first translate call
    assert "hy" not in argos_run
    assert "network refused by test" in argos_run["hy_error"]
    assert any("github.com" in attempt for attempt in argos_run["attempts"])


def test_packaged_splitter_splits_all_four_scripts(argos_run):
    # the handmade MiniSBD model, as argostranslate's own sentencizer runs it
    assert argos_run["mixed_sentences"] == [
        "Рост 5.2 процента.",
        "Երևանում է։",
        "Bakıda forum keçirilib!",
        "آیا توافق شد؟",
        "Next",
    ]


def test_weights_are_seeded():
    vocabulary = model_vocabulary(["<unk>", "<s>", "</s>", "▁a", "b"])
    first, again, other = (
        build_transformer_spec(vocabulary, layers=1, d_model=16, heads=2, ffn=32, seed=s)
        for s in (0, 0, 1)
    )
    name = "encoder/layer_0/ffn/linear_0/weight"
    first_w, again_w, other_w = (s.variables()[name].numpy() for s in (first, again, other))
    assert first_w.shape == (32, 16)
    assert (first_w == again_w).all()
    assert not (first_w == other_w).all()
    assert first.get_target_vocabulary_size() == len(vocabulary) == 6
