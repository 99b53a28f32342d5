"""gitmodel.modelfile against docs/model-file.md: parse, validate, canonical write."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from conftest import make_repo
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gitmodel import modelfile
from gitmodel.errors import GitmodelError, InvalidModelFileError
from gitmodel.modelfile import (
    MAX_MODEL_FILE_BYTES,
    NAME_RE,
    DataInput,
    FileEntry,
    ModelFile,
    check_relative_path,
    dumps,
    loads,
    normalize_name,
    parse_scalar,
)

SPEC = Path(__file__).resolve().parent.parent / "docs" / "model-file.md"
SOURCE = "models/churn.pt.model.toml"
OID_A = "sha256:" + "a" * 64
OID_B = "sha256:" + "b" * 64
HEADER = "# gitmodel model file, format 1"

def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def full_model() -> ModelFile:
    return ModelFile(
        name="nlp/sentiment",
        artifact="bert",
        files=(FileEntry("bert/config.json", OID_A, 629),
               FileEntry("bert/model.safetensors", OID_B, 437_958_648)),
        description="BERT, fine-tuned\nsecond line \"quoted\" and \\ backslash",
        created="2024-05-03T09:30:00Z",
        author="Grace Hopper <grace@example.com>",
        code_commit="c" * 40,
        code_dirty=True,
        params={"lr": 3e-4, "layers": [1, 2, 3], "opt": {"name": "adamw", "betas": [0.9, 0.999]},
                "tags": [{"z": 1, "a": 2}], "ok": True, "note": "é ✓"},
        metrics={"val": {"f1": 0.93, "loss": 0.2}, "acc": 1},
        data=(DataInput("data/images", OID_A, 10), DataInput("data/a.csv", OID_B, 0)),
    )


def valid_doc() -> dict[str, Any]:
    return {
        "format": 1,
        "name": "churn",
        "artifact": "churn.pt",
        "description": "",
        "created": "",
        "author": "",
        "code": {"commit": "", "dirty": False},
        "files": [{"path": "churn.pt", "oid": OID_A, "size": 10}],
        "params": {},
        "metrics": {},
        "data": [{"path": "data/train.csv", "oid": OID_B, "size": 3}],
    }


def encode(doc: dict[str, Any]) -> bytes:
    return tomli_w.dumps(doc).encode()


def refused(data: bytes, source: str = SOURCE) -> InvalidModelFileError:
    with pytest.raises(InvalidModelFileError) as info:
        loads(data, source)
    assert info.value.path == source
    assert str(info.value).startswith(f"invalid model file {source}: ")
    return info.value


# -- round trip and canonical bytes ------------------------------------------------------------

def test_round_trip_full_model() -> None:
    model = full_model()
    text = dumps(model)
    parsed = loads(text.encode(), SOURCE)
    assert parsed.files == tuple(sorted(model.files, key=lambda f: f.path))
    assert parsed.data == tuple(sorted(model.data, key=lambda d: d.path))
    assert parsed == model.with_metadata(data=parsed.data)
    assert dumps(parsed) == text


def test_round_trip_minimal_model_omits_empty_data() -> None:
    model = ModelFile(name="m", artifact="m.bin", files=(FileEntry("m.bin", OID_A, 0),))
    text = dumps(model)
    assert "[[data]]" not in text
    assert loads(text.encode(), SOURCE) == model
    assert not model.is_directory and model.size == 0 and model.oids == {OID_A}


def test_layout_is_canonical() -> None:
    text = dumps(full_model())
    assert text.startswith(HEADER) and text.count("\n# ") == 0
    top = [line.split(" = ")[0] for line in text.splitlines()[1:7]]
    assert top == ["format", "name", "artifact", "description", "created", "author"]
    tables = [line for line in text.splitlines() if line.startswith("[")]
    assert tables == ["[code]", "[[files]]", "[[files]]", "[params]", "[params.opt]",
                      "[metrics]", "[metrics.val]", "[[data]]", "[[data]]"]
    assert text.index('path = "bert/config.json"') < text.index('path = "bert/model.safetensors"')
    assert text.index('path = "data/a.csv"') < text.index('path = "data/images"')
    # keys sorted at every depth, also in tables inside arrays
    assert "{ a = 2, z = 1 }" in text
    assert text.index("layers =") < text.index("lr =") < text.index("note =") < text.index("ok =")


def test_dumps_ignores_insertion_order() -> None:
    model = full_model()
    shuffled = model.with_metadata(
        params={"opt": {"betas": [0.9, 0.999], "name": "adamw"}, "tags": [{"a": 2, "z": 1}],
                "note": "é ✓", "ok": True, "layers": [1, 2, 3], "lr": 3e-4},
        metrics={"acc": 1, "val": {"loss": 0.2, "f1": 0.93}},
        files=tuple(reversed(model.files)),
        data=tuple(reversed(model.data)),
    )
    assert dumps(shuffled) == dumps(model)


def test_non_canonical_input_is_accepted_and_canonicalized() -> None:
    text = (
        '# hand-edited\nartifact = "m.bin"\nformat = 1\nname = "m"\n'
        "params = { b = 1, a = { d = 2, c = 3 } }\n"
        f'files = [{{ size = 1, oid = "{OID_A}", path = "m.bin" }}]\n'
    )
    model = loads(text.encode(), SOURCE)
    assert model.params == {"a": {"c": 3, "d": 2}, "b": 1}
    canonical = dumps(model)
    assert canonical != text
    assert dumps(loads(canonical.encode(), SOURCE)) == canonical


# -- the spec's examples -------------------------------------------------------------------------

def spec_examples() -> list[str]:
    blocks = re.findall(r"^```toml\n(.*?)^```$", SPEC.read_text(encoding="utf-8"), re.S | re.M)
    return [b for b in blocks if b.startswith(HEADER)]


def test_spec_has_a_single_file_a_folder_and_a_lineage_example() -> None:
    models = [loads(b.encode(), "docs/model-file.md") for b in spec_examples()]
    assert [m.is_directory for m in models] == [False, True, False]
    assert any(m.data for m in models)
    lineage = models[2]
    assert lineage.environment is not None and lineage.run is not None and lineage.locks
    assert {d.source for d in lineage.data} == {"", "lfs", "dvc"}


@pytest.mark.parametrize("index", [0, 1, 2])
def test_spec_examples_parse_and_redump_byte_identically(index: int) -> None:
    example = spec_examples()[index]
    assert dumps(loads(example.encode(), "docs/model-file.md")) == example


def test_spec_listing_example_hashes_to_the_folder_examples_data_oid() -> None:
    text = SPEC.read_text(encoding="utf-8")
    listing = re.search(r"the listing is\n\n```\n(.*?)```", text, re.S)
    assert listing is not None
    lines = listing.group(1).splitlines(keepends=True)
    assert lines == sorted(lines, key=lambda line: line.split(" ", 2)[2])
    folder = loads(spec_examples()[1].encode(), "docs/model-file.md")
    assert folder.data[0].oid == oid_of(listing.group(1).encode())
    assert folder.data[0].size == sum(int(line.split(" ")[1]) for line in lines)


def test_model_file_path_for() -> None:
    assert modelfile.model_file_path_for("models/x.pt") == "models/x.pt.model.toml"
    assert modelfile.model_file_path_for("models/bert/") == "models/bert.model.toml"
    assert modelfile.is_model_file_path("models/x.pt.model.toml")
    assert not modelfile.is_model_file_path("models/x.pt.toml")


# -- refusals: every rule names the file and the field ---------------------------------------------

BAD_PATHS = [
    "", "/abs", "/", "a//b", "a/", "./a", "a/.", ".", "..", "a/../b", "../a",
    ".git", ".GIT", "a/.Git/config", ".gIT/hooks/post-checkout",
    "a\\b", "..\\x", "a\x00b", "a\nb", "a\tb", "a\rb", "a\x7fb", "a\x1fb",
]


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    target: Any = doc
    parts = dotted.replace("[0]", ".0").replace("[1]", ".1").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value


_DELETE = object()

REFUSALS: list[tuple[str, Any, str]] = [
    ("format", _DELETE, "format"),
    ("format", 2, "format"),
    ("format", 0, "format"),
    ("format", "1", "format"),
    ("format", True, "format"),
    ("format", 1.0, "format"),
    ("name", _DELETE, "name"),
    ("name", 1, "name"),
    ("name", "", "name"),
    ("name", "Churn", "name"),
    ("name", "-churn", "name"),
    ("name", "churn-", "name"),
    ("name", "churn/", "name"),
    ("name", "ch urn", "name"),
    ("name", "chürn", "name"),
    ("name", "a.b", "name"),
    ("artifact", _DELETE, "artifact"),
    ("artifact", 1, "artifact"),
    ("files", _DELETE, "files"),
    ("files", [], "files"),
    ("files", "churn.pt", "files"),
    ("files", {"path": "churn.pt"}, "files"),
    ("files[0]", 1, "files[0]"),
    ("files[0].path", _DELETE, "files[0].path"),
    ("files[0].path", 5, "files[0].path"),
    ("files[0].path", "other.pt", "files[0].path"),
    ("files[0].path", "churn.pt2", "files[0].path"),
    ("files[0].path", "CHURN.PT", "files[0].path"),
    ("files[0].oid", _DELETE, "files[0].oid"),
    ("files[0].oid", "a" * 64, "files[0].oid"),
    ("files[0].oid", "sha256:" + "A" * 64, "files[0].oid"),
    ("files[0].oid", "sha256:" + "a" * 63, "files[0].oid"),
    ("files[0].oid", "sha256:" + "a" * 65, "files[0].oid"),
    ("files[0].oid", "sha256:" + "g" * 64, "files[0].oid"),
    ("files[0].oid", "sha1:" + "a" * 40, "files[0].oid"),
    ("files[0].oid", "SHA256:" + "a" * 64, "files[0].oid"),
    ("files[0].oid", " sha256:" + "a" * 64, "files[0].oid"),
    ("files[0].oid", 12, "files[0].oid"),
    ("files[0].size", _DELETE, "files[0].size"),
    ("files[0].size", -1, "files[0].size"),
    ("files[0].size", 2**53, "files[0].size"),
    ("files[0].size", 2**63 - 1, "files[0].size"),
    ("files[0].size", "10", "files[0].size"),
    ("files[0].size", True, "files[0].size"),
    ("files[0].size", 10.0, "files[0].size"),
    ("code", 1, "code"),
    ("code", "abc", "code"),
    ("code.commit", "abc123", "code.commit"),
    ("code.commit", "a" * 39, "code.commit"),
    ("code.commit", "a" * 41, "code.commit"),
    ("code.commit", "A" * 40, "code.commit"),
    ("code.commit", "a" * 63, "code.commit"),
    ("code.commit", "HEAD", "code.commit"),
    ("code.commit", 1, "code.commit"),
    ("code.dirty", "yes", "code.dirty"),
    ("code.dirty", 1, "code.dirty"),
    ("data[0]", 1, "data[0]"),
    ("data[0]", "x", "data[0]"),
    ("data[0].path", _DELETE, "data[0].path"),
    ("data[0].path", 1, "data[0].path"),
    ("data[0].oid", "sha256:xyz", "data[0].oid"),
    ("data[0].oid", _DELETE, "data[0].oid"),
    ("data[0].size", -5, "data[0].size"),
    ("data[0].size", 2**53, "data[0].size"),
    ("data[0].size", _DELETE, "data[0].size"),
    ("description", 1, "description"),
    ("created", __import__("datetime").datetime(2024, 5, 2, 14, 3, 11), "created"),
    ("author", ["a"], "author"),
    ("params", 1, "params"),
    ("params", [1], "params"),
    ("metrics", "x", "metrics"),
    ("metrics", 0.5, "metrics"),
]
REFUSALS += [("artifact", p, "artifact") for p in BAD_PATHS]
REFUSALS += [("files[0].path", p, "files[0].path") for p in BAD_PATHS]
REFUSALS += [("data[0].path", p, "data[0].path") for p in BAD_PATHS]


@pytest.mark.parametrize(("field", "value", "named"), REFUSALS,
                         ids=[f"{f}={v!r}" for f, v, _ in REFUSALS])
def test_refusal_names_file_and_field(field: str, value: Any, named: str) -> None:
    doc = valid_doc()
    _set(doc, field, value)
    error = refused(encode(doc))
    assert f"'{named}'" in error.problem


def folder_doc(paths: list[str], artifact: str = "bert") -> dict[str, Any]:
    doc = valid_doc()
    doc["artifact"] = artifact
    doc["files"] = [{"path": p, "oid": OID_A, "size": 1} for p in paths]
    return doc


@pytest.mark.parametrize(("paths", "named"), [
    (["bert/a.bin", "bert/a.bin"], "files[1].path"),
    (["bert/W.bin", "bert/w.bin"], "files[1].path"),
    (["bert/x/a", "BERT/X/A"], "files[1].path"),
    (["bert/w", "bert/w/x.bin"], "files"),
    (["bert/w/x.bin", "bert/W"], "files"),
    (["bert/a/b/c", "bert/a"], "files"),
    (["bert", "bert/x"], "files"),
    (["bert/x", "other/x"], "files[1].path"),
    (["bertx/y"], "files[0].path"),
])
def test_folder_path_rules(paths: list[str], named: str) -> None:
    error = refused(encode(folder_doc(paths)))
    assert f"'{named}'" in error.problem


def test_folder_artifact_accepted() -> None:
    model = loads(encode(folder_doc(["bert/z.bin", "bert/a/b.bin", "bert/a.bin"])), SOURCE)
    assert model.is_directory
    assert [f.path for f in model.files] == ["bert/a.bin", "bert/a/b.bin", "bert/z.bin"]
    single = loads(encode(folder_doc(["bert/only.bin"])), SOURCE)
    assert single.is_directory


@pytest.mark.parametrize(("field", "value"), [
    ("code.commit", "a" * 40),
    ("code.commit", "0123456789abcdef" * 4),
    ("code.commit", ""),
    ("code", _DELETE),
    ("data", _DELETE),
    ("data", []),
    ("params", _DELETE),
    ("description", _DELETE),
    ("files[0].size", 2**53 - 1),
    ("files[0].size", 0),
    ("name", "a"),
    ("name", "nlp/sentiment_v2-b"),
    ("name", "0"),
    ("artifact", "sub/dir/churn.pt"),
    ("artifact", ".github-ish"),
    ("artifact", "...x"),
    ("artifact", ".gitignored"),
    ("artifact", "git~x"),
    ("artifact", "caf\u00e9 model.pt"),
])
def test_accepted_values(field: str, value: Any) -> None:
    doc = valid_doc()
    _set(doc, field, value)
    if field == "artifact":
        doc["files"][0]["path"] = value
    loads(encode(doc), SOURCE)


def test_unknown_keys_are_ignored() -> None:
    doc = valid_doc()
    doc["future"] = {"x": [1, 2]}
    doc["zzz"] = "later"
    doc["code"]["branch"] = "main"
    doc["files"][0]["mode"] = "0644"
    doc["data"][0]["kind"] = "csv"
    model = loads(encode(doc), SOURCE)
    assert model == loads(encode(valid_doc()), SOURCE)
    assert "future" not in dumps(model)


def test_defaults() -> None:
    doc = {k: v for k, v in valid_doc().items() if k in ("format", "name", "artifact", "files")}
    model = loads(encode(doc), SOURCE)
    assert (model.description, model.created, model.author) == ("", "", "")
    assert (model.code_commit, model.code_dirty, model.params, model.metrics, model.data) == (
        "", False, {}, {}, ())


@pytest.mark.parametrize("value", ["1", "true", "{}", "2024-01-01"])
def test_data_must_be_an_array(value: str) -> None:
    doc = valid_doc()
    del doc["data"]
    text = f"data = {value}\n" + tomli_w.dumps(doc)
    error = refused(text.encode())
    assert "'data'" in error.problem


@pytest.mark.parametrize(("field", "value"), [
    ("name", "churn\n"),
    ("files[0].oid", OID_A + "\n"),
    ("data[0].oid", OID_B + "\n"),
    ("code.commit", "a" * 40 + "\n"),
])
def test_trailing_newline_is_refused(field: str, value: str) -> None:
    doc = valid_doc()
    _set(doc, field, value)
    error = refused(encode(doc))
    assert f"'{field}'" in error.problem


# -- hostile bytes ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "a = " + "[" * 100_000,
    "a = " + "{b = " * 100_000,
    "a = " + "[" * 100_000 + "]" * 100_000,
    "[params]\nx = " + "[" * 5_000 + "]" * 5_000,
])
def test_deep_nesting_is_invalid_not_a_crash(text: str) -> None:
    started = time.monotonic()
    error = refused(text.encode())
    assert "TOML" in error.problem
    assert time.monotonic() - started < 2


def test_oversize_refused_before_parsing() -> None:
    data = b"\xff" * (MAX_MODEL_FILE_BYTES + 1)  # not UTF-8 either: the size is checked first
    started = time.monotonic()
    error = refused(data)
    assert "limit" in error.problem and str(MAX_MODEL_FILE_BYTES) in error.problem
    assert time.monotonic() - started < 0.5
    refused(b"a = " + b"[" * (50 * MAX_MODEL_FILE_BYTES))


def test_exactly_the_limit_is_accepted() -> None:
    base = encode(valid_doc())
    padded = base + b"#" + b"x" * (MAX_MODEL_FILE_BYTES - len(base) - 2) + b"\n"
    assert len(padded) == MAX_MODEL_FILE_BYTES
    loads(padded, SOURCE)
    refused(padded + b"\n")


@pytest.mark.parametrize("data", [b"\xff\xfe", b'name = "\xc3"', b"\x80", "é".encode("latin-1")])
def test_not_utf8(data: bytes) -> None:
    assert "UTF-8" in refused(data).problem


@pytest.mark.parametrize("data", [b"", b"format = 1", b"= 1", b"[[files]\n", b"a = 1\na = 2",
                                  b"\x00", b'name = "a\x01"'])
def test_not_valid_toml_or_incomplete(data: bytes) -> None:
    refused(data)


# -- property tests ----------------------------------------------------------------------------

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def loads_or_invalid(data: bytes) -> None:
    try:
        loads(data, SOURCE)
    except InvalidModelFileError as exc:
        assert exc.path == SOURCE


@PROPERTY
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_invalid(data: bytes) -> None:
    loads_or_invalid(data)


@PROPERTY
@given(st.text(max_size=300))
def test_arbitrary_text_only_raises_invalid(text: str) -> None:
    loads_or_invalid(text.encode())
    loads_or_invalid(encode(valid_doc()) + text.encode())


toml_scalars = (st.text(max_size=8) | st.integers(-(2**63), 2**63 - 1) | st.booleans()
                | st.floats(allow_nan=False))
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
FIELDS = ["format", "name", "artifact", "description", "created", "author", "code", "code.commit",
          "code.dirty", "files", "files[0]", "files[0].path", "files[0].oid", "files[0].size",
          "params", "metrics", "data", "data[0]", "data[0].path", "data[0].oid", "data[0].size",
          "unknown"]


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(FIELDS), toml_values | st.just(_DELETE)),
                min_size=1, max_size=3))
def test_mutated_documents_only_raise_invalid(mutations: list[tuple[str, Any]]) -> None:
    doc = valid_doc()
    for field, value in mutations:
        try:
            _set(doc, field, value)
        except (KeyError, IndexError, TypeError):
            continue
    try:
        data = encode(doc)
    except TypeError:  # the mutation made something TOML cannot hold (an int key)
        assume(False)
        return
    loads_or_invalid(data)


def _is_safe_component(part: str) -> bool:
    return part not in ("", ".", "..") and part.lower() != ".git"


components = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\x7f",
                  min_codepoint=0x20),
    min_size=1, max_size=8,
).filter(_is_safe_component)
safe_paths = st.lists(components, min_size=1, max_size=4).map("/".join)
git_cases = st.lists(st.booleans(), min_size=3, max_size=3).map(
    lambda up: "." + "".join(c.upper() if u else c for c, u in zip("git", up, strict=True)))
bad_components = st.sampled_from(["..", "."]) | git_cases


@PROPERTY
@given(safe_paths)
def test_check_relative_path_accepts_safe_paths(path: str) -> None:
    assert check_relative_path(path, "path") == path


@PROPERTY
@given(st.lists(components, max_size=3), bad_components, st.lists(components, max_size=3))
def test_check_relative_path_rejects_dotdot_and_git(before: list[str], bad: str,
                                                    after: list[str]) -> None:
    with pytest.raises(ValueError, match="component"):
        check_relative_path("/".join([*before, bad, *after]), "path")


@pytest.mark.parametrize("path", [*BAD_PATHS, None, 1, b"a"])
def test_check_relative_path_rejects(path: Any) -> None:
    with pytest.raises(ValueError, match=r"^path"):
        check_relative_path(path, "path")


@st.composite
def model_files(draw: st.DrawFn) -> ModelFile:
    name = draw(st.from_regex(r"[a-z0-9]([a-z0-9\-/_]{0,10}[a-z0-9])?", fullmatch=True))
    assert NAME_RE.match(name)
    artifact = draw(safe_paths)
    if draw(st.booleans()):
        files: tuple[FileEntry, ...] = (FileEntry(artifact, draw(oids), draw(sizes)),)
    else:
        rels = draw(st.lists(safe_paths, min_size=1, max_size=4))
        chosen: dict[str, str] = {}
        for rel in rels:
            key = rel.lower()
            prefixes = {"/".join(key.split("/")[:i]) for i in range(1, key.count("/") + 1)}
            if key in chosen or prefixes & chosen.keys() or any(
                    c.startswith(key + "/") for c in chosen):
                continue
            chosen[key] = f"{artifact}/{rel}"
        files = tuple(sorted((FileEntry(p, draw(oids), draw(sizes)) for p in chosen.values()),
                             key=lambda f: f.path))
    data_paths = draw(st.lists(safe_paths, max_size=3, unique=True))
    return ModelFile(
        name=name, artifact=artifact, files=files,
        description=draw(st.text(max_size=20)), created=draw(st.text(max_size=20)),
        author=draw(st.text(max_size=20)),
        code_commit=draw(st.sampled_from(["", "a" * 40, "0123456789abcdef" * 4])),
        code_dirty=draw(st.booleans()),
        params=draw(st.dictionaries(st.text(max_size=6), toml_values, max_size=4)),
        metrics=draw(st.dictionaries(st.text(max_size=6), toml_values, max_size=4)),
        data=tuple(sorted((DataInput(p, draw(oids), draw(sizes)) for p in data_paths),
                          key=lambda d: d.path)),
    )


oids = st.binary(max_size=8).map(oid_of)
sizes = st.integers(0, 2**53 - 1)


@settings(PROPERTY, max_examples=40)
@given(model_files())
def test_generated_models_round_trip(model: ModelFile) -> None:
    text = dumps(model)
    parsed = loads(text.encode(), SOURCE)
    assert parsed == model
    assert dumps(parsed) == text


# -- names and scalars -------------------------------------------------------------------------

@PROPERTY
@given(st.text(max_size=40))
def test_normalize_name_matches_the_grammar_or_is_empty(stem: str) -> None:
    name = normalize_name(stem)
    assert name == "" or re.fullmatch(NAME_RE.pattern, name)
    assert normalize_name(name) == name


@pytest.mark.parametrize(("stem", "name"), [
    ("ResNet 50", "resnet-50"), ("churn", "churn"), ("--a--", "a"), ("_x_", "x"),
    ("nlp/Sentiment", "nlp/sentiment"), ("é", ""), ("", ""), ("a.b", "a-b"), ("日本a", "a"),
])
def test_normalize_name_examples(stem: str, name: str) -> None:
    assert normalize_name(stem) == name


@pytest.mark.parametrize(("text", "value"), [
    ("3e-4", 3e-4), ("20", 20), ("-1", -1), ("1_000", 1000), ("0x10", 16), ("true", True),
    ("false", False), ('"quoted"', "quoted"), ("'literal'", "literal"), ("adamw", "adamw"),
    ("", ""), ("[1, 2]", "[1, 2]"), ("{a = 1}", "{a = 1}"), ("2024-01-01", "2024-01-01"),
    ("1 2", "1 2"), ("True", "True"), ("a=b", "a=b"), ("[" * 100_000, "[" * 100_000),
])
def test_parse_scalar(text: str, value: Any) -> None:
    result = parse_scalar(text)
    assert result == value and type(result) is type(value)


def test_parse_scalar_special_floats() -> None:
    assert parse_scalar("inf") == math.inf
    assert math.isnan(float(parse_scalar("nan")))


def test_parse_scalar_with_newline_keeps_the_text() -> None:
    assert parse_scalar("1\nw = 2") == "1\nw = 2"


@PROPERTY
@given(st.text(max_size=30))
def test_parse_scalar_never_raises(text: str) -> None:
    value = parse_scalar(text)
    assert isinstance(value, str | int | float | bool)
    if isinstance(value, str) and "\n" not in text and value != text:
        assert text.strip()[0] in "'\""  # only a TOML string literal changes the text


@PROPERTY
@given(st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.booleans())
def test_parse_scalar_reads_toml_values(value: Any) -> None:
    text = tomli_w.dumps({"v": value})[4:].strip()
    assert parse_scalar(text) == value


# -- the data-folder listing of the spec, as `git model add --data` computes it ----------------

def test_data_folder_oid_is_the_sorted_listing(tmp_path: Path) -> None:
    from gitmodel import api

    repo = make_repo(tmp_path / "repo", install=False)
    files = {"b": b"b\n", "a/x": b"x\n", "a/y/z": b"zz\n", "c": b""}
    for rel, content in files.items():
        repo.write(f"data/{rel}", content)
    repo.write("models/m.pt", b"model")
    api.add([repo.root / "models/m.pt"], data=[repo.root / "data"], cwd=repo.root)
    model = loads((repo.root / "models/m.pt.model.toml").read_bytes(), "m")
    listing = "".join(f"{oid_of(files[rel])} {len(files[rel])} {rel}\n" for rel in sorted(files))
    assert model.data == (DataInput("data", oid_of(listing.encode()), sum(map(len, files.values()))),)


def test_model_file_naming_a_tracked_folder_never_deletes_code(tmp_path: Path) -> None:
    from gitmodel import api

    repo = make_repo(tmp_path / "repo", install=False)
    repo.write("src/code.py", "print('code')\n")
    repo.git("add", "src/code.py")
    repo.commit("code")
    repo.write("models/w.bin", b"weights")
    api.add([repo.root / "models/w.bin"], cwd=repo.root)
    hostile = ModelFile(name="evil", artifact="src",
                        files=(FileEntry("src/w.bin", oid_of(b"weights"), 7),))
    repo.write("src.model.toml", dumps(hostile))  # as a clone would bring it
    repo.git("add", "src.model.toml")
    repo.commit("hostile model file")
    with contextlib.suppress(GitmodelError):  # refusing is fine; deleting code is not
        api.checkout(cwd=repo.root)
    assert (repo.root / "src/code.py").read_text() == "print('code')\n"


# -- names that mean a git file on some file system (issue 9, part 3) ----------------------------

@pytest.mark.parametrize("artifact", [
    ".git", ".GIT", ".git\u200c", ".g\u200dit", "\ufeff.git", ".git.", ".git ", ".git. . ",
    ".git:stream", "git~1", "GIT~2", ".gitmodules", ".GitAttributes", ".gitignore",
    "gitmod~1", "models/.gitattributes", "models/GIT~1/x",
])
def test_names_that_are_git_files_somewhere_are_refused(artifact: str) -> None:
    doc = valid_doc()
    doc["artifact"] = artifact
    doc["files"][0]["path"] = artifact
    error = refused(encode(doc))
    assert "git reads such files itself" in error.problem and "'artifact'" in error.problem


def git_refuses(paths: list[str], repo: Path) -> set[str]:
    """What git's verify_path refuses with core.protectNTFS and core.protectHFS, in one call:
    `update-index --index-info` skips ("Ignoring path") what it refuses and adds the rest. Each
    path goes under its own folder, so no two of them clash as file and folder."""
    import subprocess

    blob = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # the empty blob; need not exist
    index = repo / f"probe-{time.monotonic_ns()}.index"
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    lines = "".join(f"100644 {blob}\tp{i}/{path}\n" for i, path in enumerate(paths))
    subprocess.run(["git", "-c", "core.protectNTFS=true", "-c", "core.protectHFS=true",
                    "update-index", "--index-info"], cwd=repo, input=lines.encode(),
                   capture_output=True, check=True, env=env)
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True,
                            env=env).stdout.decode().split("\0")
    added = {int(entry.split("/", 1)[0][1:]) for entry in listed if entry}
    return {path for i, path in enumerate(paths) if i not in added}


@pytest.fixture(scope="module")
def git_probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import subprocess

    repo = tmp_path_factory.mktemp("probe")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, capture_output=True)
    return repo


def test_the_probe_sees_what_git_refuses(git_probe: Path) -> None:
    assert git_refuses(["ok", ".git/x", "a/GIT~1/b", ".g\u200cit", "fine/.git."], git_probe) == {
        ".git/x", "a/GIT~1/b", ".g\u200cit", "fine/.git."}


_PIECES = st.sampled_from([".git", "git", "GIT", ".", " ", "~1", "~", "1", "a", ".gitmodules",
                           "modules", "\u200c", "\u200f", "\u202a", "\u206f", "\ufeff", ":",
                           "\u00e9", "-"])
_COMPONENT = st.lists(_PIECES, min_size=1, max_size=4).map("".join)
_PATH = st.lists(_COMPONENT, min_size=1, max_size=3).map("/".join)


@given(st.lists(_PATH, min_size=1, max_size=20))
def test_gitmodel_refuses_every_path_git_refuses_with_both_protections(
        git_probe: Path, paths: list[str]) -> None:
    by_git = git_refuses(paths, git_probe)
    ours = set()
    for path in paths:
        try:
            check_relative_path(path, "path")
        except ValueError:
            ours.add(path)
    assert by_git <= ours, f"git refuses, gitmodel accepts: {sorted(by_git - ours)}"



@pytest.mark.parametrize("parts", [modelfile.MAX_KEY_PARTS, 20_000])
def test_a_key_of_too_many_dotted_parts_is_refused_before_parsing(parts: int) -> None:
    text = dumps(full_model())
    assert "\n[params]\n" in text
    deep = text.replace("\n[params]\n", "\n[params" + ".a" * (parts - 1) + "]\n")
    with pytest.raises(InvalidModelFileError, match="dotted parts"):
        loads(deep.encode(), SOURCE)


def test_keys_of_fewer_dotted_parts_and_dots_in_strings_still_parse() -> None:
    text = dumps(full_model())
    text = text.replace("\n[params]\n", "\n[params" + '."a.b"' * (modelfile.MAX_KEY_PARTS - 2) + "]\n")
    text = text.replace('description = "', 'description = "' + "v1.2." * 5000)
    parsed = loads(text.encode(), SOURCE)
    assert parsed.description.startswith("v1.2.v1.2.")
