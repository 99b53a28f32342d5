"""The lineage fields of a model file (docs/model-file.md, "Lineage"): data pointers, lock files,
environment and run. Round trip, canonical layout, and hostile values refused naming the field
without echoing the value."""

from __future__ import annotations

import math
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitmodel.errors import InvalidModelFileError
from gitmodel.modelfile import (
    MAX_MODEL_FILE_BYTES,
    PACKAGE_NAME_RE,
    DataInput,
    Environment,
    FileEntry,
    LockFile,
    ModelFile,
    ParseCache,
    Run,
    dumps,
    is_text,
    loads,
)

SOURCE = "models/churn.pt.model.toml"
OID_A = "sha256:" + "a" * 64
OID_B = "sha256:" + "b" * 64
PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def lineage_model() -> ModelFile:
    return ModelFile(
        name="churn", artifact="churn.pt", files=(FileEntry("churn.pt", OID_A, 10),),
        code_commit="c" * 40,
        data=(DataInput("data/train.csv", OID_B, 5),
              DataInput("data/big.parquet", OID_A, 1 << 40, source="lfs"),
              DataInput("data/images", OID_B, 77, source="dvc", pointer="data/images.dvc",
                        md5="0" * 32 + ".dir")),
        locks=(LockFile("uv.lock", "1" * 40), LockFile("pyproject.toml", "2" * 40)),
        environment=Environment(
            python="3.11.4", implementation="cpython", os="linux", machine="x86_64",
            kind="venv", distributions=143, listing=OID_B,
            skipped=("broken-1.0.dist-info: no METADATA",),
            accelerator={"cuda": "12.1", "cudnn": "8.9.2.26"},
            packages={"torch": "2.3.0+cu121", "numpy": "1.26.4"}),
        run=Run(command=("python", "train.py", "--lr", "3e-4", "é ✓"),
                started="2026-12-02T10:15:00Z", ended="2026-12-02T10:16:03Z",
                duration=63.25, exit=0, host="gpu-box-1"),
    )


def doc_of(model: ModelFile) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(dumps(model))


def refused(doc: dict[str, Any]) -> InvalidModelFileError:
    with pytest.raises(InvalidModelFileError) as info:
        loads(tomli_w.dumps(doc).encode(), SOURCE)
    assert str(info.value).startswith(f"invalid model file {SOURCE}: ")
    return info.value


# -- round trip and layout -----------------------------------------------------------------------

def test_round_trip_with_every_lineage_field() -> None:
    model = lineage_model()
    text = dumps(model)
    parsed = loads(text.encode(), SOURCE)
    assert parsed.locks == (LockFile("pyproject.toml", "2" * 40), LockFile("uv.lock", "1" * 40))
    assert parsed == model.with_metadata(locks=parsed.locks,
                                         data=tuple(sorted(model.data, key=lambda d: d.path)))
    assert dumps(parsed) == text


def test_layout_puts_lineage_after_data_in_the_spec_order() -> None:
    text = dumps(lineage_model())
    tables = [line for line in text.splitlines() if line.startswith("[")]
    assert tables == ["[code]", "[[files]]", "[params]", "[metrics]", "[[data]]", "[[data]]",
                      "[[data]]", "[environment]", "[environment.accelerator]",
                      "[environment.packages]", "[run]"]
    # lock files fit on a line each: tomli-w writes them inline, among the top-level values
    top = text[:text.index("[code]")]
    assert top.index("author =") < top.index("lock = [") and top.count("{ path = ") == 2
    env = text[text.index("[environment]"):text.index("[environment.accelerator]")]
    keys = [line.split(" = ")[0] for line in env.splitlines()[1:] if " = " in line]
    assert keys == ["python", "implementation", "os", "machine", "kind", "distributions",
                    "listing", "skipped"]
    run = text[text.index("[run]"):]
    keys = [line.split(" = ")[0] for line in run.splitlines()[1:] if " = " in line]
    assert keys == ["command", "started", "ended", "duration", "exit", "host"]
    assert text.index("numpy =") < text.index("torch =")
    # a data entry hashed by gitmodel has no source, pointer or md5 keys
    plain = text[text.index('path = "data/train.csv"'):]
    assert plain.split("\n\n")[0].count("\n") == 2


def test_a_model_without_lineage_is_written_as_before() -> None:
    model = ModelFile(name="m", artifact="m.bin", files=(FileEntry("m.bin", OID_A, 0),))
    text = dumps(model)
    for table in ("lock", "[environment]", "[run]", "source"):
        assert table not in text
    assert loads(text.encode(), SOURCE).environment is None


def test_run_without_measurements_leaves_duration_and_exit_out() -> None:
    model = lineage_model().with_metadata(run=Run(command=("train.py",)))
    text = dumps(model)
    assert "duration" not in text and "exit" not in text
    assert loads(text.encode(), SOURCE).run == Run(command=("train.py",))


def test_unknown_lineage_keys_are_ignored_and_not_kept() -> None:
    doc = doc_of(lineage_model())
    doc["environment"]["gpu_name"] = "\x1b[31mred"
    doc["environment"]["accelerator"]["tpu"] = "\x1b[2J"
    doc["run"]["user"] = "x"
    doc["lock"][0]["note"] = 1
    parsed = loads(tomli_w.dumps(doc).encode(), SOURCE)
    assert parsed.environment is not None and "tpu" not in parsed.environment.accelerator
    assert dumps(parsed) == dumps(lineage_model())


def test_parse_cache_keeps_lineage(tmp_path: Any) -> None:
    data = dumps(lineage_model()).encode()
    first = ParseCache(tmp_path / "parsed")
    model = first.loads(data, SOURCE)
    first.save()
    again = ParseCache(tmp_path / "parsed").loads(data, SOURCE)
    assert again == model and again.run is not None and again.run.exit == 0


# -- hostile values ------------------------------------------------------------------------------

CONTROL = ["\x00", "\x07", "\x1b[2J", "\n", "\r", "\x7f", "\x9b", "\u202e", "\u2066", "\u200f"]

REFUSALS: list[tuple[str, Any, str]] = [
    ("environment", "linux", "environment"),
    ("environment.python", "3.11 .4", "environment.python"),
    ("environment.python", "x" * 65, "environment.python"),
    ("environment.python", 3.11, "environment.python"),
    ("environment.os", "linux\x1b[31m", "environment.os"),
    ("environment.machine", "é", "environment.machine"),
    ("environment.kind", "docker", "environment.kind"),
    ("environment.distributions", -1, "environment.distributions"),
    ("environment.distributions", 100_001, "environment.distributions"),
    ("environment.distributions", True, "environment.distributions"),
    ("environment.listing", "sha256:xyz", "environment.listing"),
    ("environment.skipped", "x", "environment.skipped"),
    ("environment.skipped", ["ok"] * 33, "environment.skipped"),
    ("environment.skipped", ["x" * 201], "environment.skipped[0]"),
    ("environment.skipped", [1], "environment.skipped[0]"),
    ("environment.accelerator", [], "environment.accelerator"),
    ("environment.accelerator", {"cuda": ""}, "environment.accelerator.cuda"),
    ("environment.accelerator", {"cuda": "12.1\n"}, "environment.accelerator.cuda"),
    ("environment.packages", "numpy", "environment.packages"),
    ("environment.packages", {"NumPy": "1"}, "environment.packages"),
    ("environment.packages", {"a_b": "1"}, "environment.packages"),
    ("environment.packages", {"a" * 101: "1"}, "environment.packages"),
    ("environment.packages", {"numpy": 1}, "environment.packages.numpy"),
    ("environment.packages", {"numpy": "1 2"}, "environment.packages.numpy"),
    ("environment.packages", {f"p{i}": "1" for i in range(257)}, "environment.packages"),
    ("lock", {"path": "uv.lock"}, "lock"),
    ("lock", [1], "lock[0]"),
    ("lock", [{"path": "uv.lock", "blob": "1" * 40}] * 2, "lock[1].path"),
    ("lock", [{"path": f"r{i}.txt", "blob": "1" * 40} for i in range(257)], "lock"),
    ("lock", [{"path": "../uv.lock", "blob": "1" * 40}], "lock[0].path"),
    ("lock", [{"path": ".git/config", "blob": "1" * 40}], "lock[0].path"),
    ("lock", [{"path": "uv.lock", "blob": "1" * 39}], "lock[0].blob"),
    ("lock", [{"path": "uv.lock"}], "lock[0].blob"),
    ("lock", [{"blob": "1" * 40}], "lock[0].path"),
    ("run", [], "run"),
    ("run.command", "python train.py", "run.command"),
    ("run.command", [1], "run.command[0]"),
    ("run.command", ["x"] * 257, "run.command"),
    ("run.command", ["x" * 4097], "run.command[0]"),
    ("run.command", ["x" * 4096] * 17, "run.command"),
    ("run.started", "2026-12-02 10:15:00", "run.started"),
    ("run.ended", "yesterday", "run.ended"),
    ("run.duration", -1.0, "run.duration"),
    ("run.duration", 1e10, "run.duration"),
    ("run.duration", math.inf, "run.duration"),
    ("run.duration", math.nan, "run.duration"),
    ("run.duration", "1", "run.duration"),
    ("run.exit", 256, "run.exit"),
    ("run.exit", -256, "run.exit"),
    ("run.exit", True, "run.exit"),
    ("run.exit", 0.0, "run.exit"),
    ("run.host", "a b", "run.host"),
    ("run.host", "h" * 254, "run.host"),
    ("run.host", "box\x1b]0;pwned\x07", "run.host"),
    ("data[0].source", "s3", "data[0].source"),
    ("data[0].source", 1, "data[0].source"),
    ("data[0].pointer", "x.dvc", "data[0].pointer"),
    ("data[0].md5", "0" * 32, "data[0].pointer"),
    ("data[1].pointer", "../x.dvc", "data[1].pointer"),
    ("data[1].pointer", "data/images.txt", "data[1].pointer"),
    ("data[1].pointer", "", "data[1].pointer"),
    ("data[1].md5", "0" * 31, "data[1].md5"),
    ("data[1].md5", "0" * 32 + ".DIR", "data[1].md5"),
]
REFUSALS += [("run.command", ["python", f"a{c}b"], "run.command[1]") for c in CONTROL]
REFUSALS += [("environment.skipped", [f"x{c}"], "environment.skipped[0]") for c in CONTROL]


def _put(doc: dict[str, Any], dotted: str, value: Any) -> None:
    target: Any = doc
    parts = dotted.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    target[int(last) if last.isdigit() else last] = value


@pytest.mark.parametrize(("field", "value", "named"), REFUSALS,
                         ids=[f"{f}={v!r}"[:60] for f, v, _ in REFUSALS])
def test_hostile_lineage_is_refused_naming_the_field(field: str, value: Any, named: str) -> None:
    doc = doc_of(lineage_model())
    _put(doc, field, value)
    error = refused(doc)
    assert f"'{named}'" in error.problem
    # the value itself is never echoed (paths are, as repr, which escapes what a terminal obeys)
    message = str(error)
    assert is_text(message)
    if isinstance(value, str) and len(value) > 3 and not field.endswith(("path", "pointer")):
        assert value not in message


def test_a_huge_command_is_refused_by_the_size_limit_before_parsing() -> None:
    doc = doc_of(lineage_model())
    doc["run"]["command"] = ["x" * 4000] * 300
    data = tomli_w.dumps(doc).encode()
    assert len(data) > MAX_MODEL_FILE_BYTES
    with pytest.raises(InvalidModelFileError, match="byte limit"):
        loads(data, SOURCE)


# -- properties ----------------------------------------------------------------------------------

tokens = st.from_regex(r"[A-Za-z0-9._+!~-]{1,64}", fullmatch=True)
maybe_tokens = st.just("") | tokens
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).filter(is_text)
package_names = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
times = st.just("") | st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")).filter(
    lambda s: len(s) == 20)
oids = st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True)
paths = st.from_regex(r"[a-z]{1,8}(/[a-z0-9_.-]{1,8}){0,2}", fullmatch=True).filter(
    lambda p: all(part not in (".", "..") and not part.startswith(".git")
                  for part in p.split("/")))


@st.composite
def environments(draw: st.DrawFn) -> Environment:
    return Environment(
        python=draw(maybe_tokens), implementation=draw(maybe_tokens), os=draw(maybe_tokens),
        machine=draw(maybe_tokens),
        kind=draw(st.sampled_from(["", "process", "venv", "conda", "path"])),
        distributions=draw(st.integers(0, 100_000)), listing=draw(st.just("") | oids),
        skipped=tuple(draw(st.lists(texts, max_size=4))),
        accelerator=draw(st.dictionaries(st.sampled_from(["cuda", "cudnn", "nccl", "rocm",
                                                          "nvidia-driver"]), tokens, max_size=3)),
        packages=dict(sorted(draw(st.dictionaries(package_names, tokens, max_size=6)).items())),
    )


@st.composite
def runs(draw: st.DrawFn) -> Run:
    return Run(command=tuple(draw(st.lists(texts, max_size=6))), started=draw(times),
               ended=draw(times),
               duration=draw(st.none() | st.floats(0, 1e9, allow_nan=False)),
               exit=draw(st.none() | st.integers(-255, 255)),
               host=draw(st.just("") | st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True)))


@st.composite
def lineage_models(draw: st.DrawFn) -> ModelFile:
    data = []
    for i, path in enumerate(draw(st.lists(paths, max_size=3, unique=True))):
        source = draw(st.sampled_from(["", "lfs", "dvc"]))
        data.append(DataInput(path, draw(oids), draw(st.integers(0, 2**53 - 1)), source,
                              f"p{i}.dvc" if source == "dvc" else "",
                              draw(st.from_regex(r"[0-9a-f]{32}(\.dir)?", fullmatch=True))
                              if source == "dvc" else ""))
    locks = tuple(LockFile(p, draw(st.from_regex(r"[0-9a-f]{40}", fullmatch=True)))
                  for p in sorted(draw(st.lists(paths, max_size=3, unique=True))))
    return ModelFile(name="m", artifact="m.bin", files=(FileEntry("m.bin", OID_A, 1),),
                     data=tuple(sorted(data, key=lambda d: d.path)), locks=locks,
                     environment=draw(st.none() | environments()),
                     run=draw(st.none() | runs()))


@PROPERTY
@given(lineage_models())
def test_generated_lineage_round_trips(model: ModelFile) -> None:
    text = dumps(model)
    parsed = loads(text.encode(), SOURCE)
    assert parsed == model
    assert dumps(parsed) == text


LINEAGE_FIELDS = ["environment", "environment.python", "environment.os", "environment.kind",
                  "environment.distributions", "environment.listing", "environment.skipped",
                  "environment.accelerator", "environment.packages", "lock", "lock[0]",
                  "lock[0].path", "lock[0].blob", "run", "run.command", "run.started",
                  "run.duration", "run.exit", "run.host", "data[0].source", "data[1].pointer",
                  "data[1].md5"]
hostile_values = st.recursive(
    st.text(max_size=20) | st.integers(-(2**63), 2**63 - 1) | st.booleans() | st.floats(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6)


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(LINEAGE_FIELDS), hostile_values), min_size=1,
                max_size=3))
def test_mutated_lineage_only_raises_invalid_and_accepted_values_obey_the_rules(
        mutations: list[tuple[str, Any]]) -> None:
    doc = doc_of(lineage_model())
    for field, value in mutations:
        try:
            _put(doc, field, value)
        except (KeyError, IndexError, TypeError):
            continue
    try:
        data = tomli_w.dumps(doc).encode()
    except (TypeError, ValueError):
        return
    try:
        model = loads(data, SOURCE)
    except InvalidModelFileError as exc:
        assert is_text(str(exc).replace("\n", " "))
        return
    # whatever was accepted is printable and within its bounds
    if model.environment is not None:
        env = model.environment
        assert all(PACKAGE_NAME_RE.fullmatch(k) for k in env.packages)
        assert all(is_text(v) for v in [*env.packages.values(), *env.skipped,
                                        *env.accelerator.values(), env.python, env.os])
    if model.run is not None:
        assert all(is_text(arg) and len(arg) <= 4096 for arg in model.run.command)
        assert is_text(model.run.host)
    assert dumps(loads(dumps(model).encode(), SOURCE)) == dumps(model)


@PROPERTY
@given(st.text(max_size=40))
def test_is_text_refuses_exactly_control_and_bidi_characters(value: str) -> None:
    import unicodedata

    bad = any(unicodedata.category(c) == "Cc" or c in "\u061c\u200e\u200f\u202a\u202b\u202c"
              "\u202d\u202e\u2066\u2067\u2068\u2069" for c in value)
    assert is_text(value) is not bad
