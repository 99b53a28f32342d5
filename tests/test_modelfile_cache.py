"""gitmodel.modelfile.ParseCache: parsed model files kept by their exact bytes (issue 7,
everyday latency). A hit must equal a fresh parse, and nothing the cache holds may change what
a model file means."""

from __future__ import annotations

import datetime
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_modelfile import encode, full_model, valid_doc

from gitmodel import modelfile
from gitmodel.errors import InvalidModelFileError
from gitmodel.modelfile import ParseCache, dumps, loads

SOURCE = "models/churn.pt.model.toml"


def test_a_second_parse_of_the_same_bytes_comes_from_the_cache(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    data = dumps(full_model()).encode()
    parsed = loads(data, SOURCE)
    first = ParseCache(tmp_path / "parsed")
    assert first.loads(data, SOURCE) == parsed
    first.save()
    assert (tmp_path / "parsed").is_file()

    def no_parsing(*args: Any) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(modelfile, "loads", no_parsing)
    assert ParseCache(tmp_path / "parsed").loads(data, SOURCE) == parsed


def test_changed_bytes_are_parsed_again(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "parsed")
    doc = valid_doc()
    cache.loads(encode(doc), SOURCE)
    cache.save()
    doc["name"] = "other"
    assert ParseCache(tmp_path / "parsed").loads(encode(doc), SOURCE).name == "other"


def test_an_invalid_model_file_is_refused_every_time_and_never_cached(tmp_path: Path) -> None:
    doc = valid_doc()
    doc["files"][0]["oid"] = "sha256:nothex"
    for _ in range(2):
        cache = ParseCache(tmp_path / "parsed")
        with pytest.raises(InvalidModelFileError, match=r"files\[0\]\.oid"):
            cache.loads(encode(doc), SOURCE)
        cache.save()
    assert not (tmp_path / "parsed").exists()


@pytest.mark.parametrize("junk", [b"", b"\x00garbage", b"\xe3" * 100])
def test_an_unreadable_cache_file_is_ignored_and_rewritten(tmp_path: Path, junk: bytes) -> None:
    (tmp_path / "parsed").write_bytes(junk)
    cache = ParseCache(tmp_path / "parsed")
    assert cache.loads(encode(valid_doc()), SOURCE).name == "churn"
    cache.save()
    assert (tmp_path / "parsed").read_bytes() != junk


def test_a_cache_written_by_another_parser_is_not_used(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import marshal

    data = encode(valid_doc())
    forged = {data: modelfile._record(loads(encode({**valid_doc(), "name": "forged"}), SOURCE))}
    (tmp_path / "parsed").write_bytes(marshal.dumps((("another", "parser"), forged)))
    assert ParseCache(tmp_path / "parsed").loads(data, SOURCE).name == "churn"


def test_a_model_file_with_a_toml_date_is_parsed_every_time(tmp_path: Path) -> None:
    doc = {**valid_doc(), "params": {"when": datetime.date(2024, 5, 3)}}
    cache = ParseCache(tmp_path / "parsed")
    assert cache.loads(encode(doc), SOURCE).params["when"] == datetime.date(2024, 5, 3)
    cache.save()
    again = ParseCache(tmp_path / "parsed")
    assert again.loads(encode(doc), SOURCE).params["when"] == datetime.date(2024, 5, 3)


def test_a_read_only_cache_folder_costs_a_parse_not_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        cache = ParseCache(folder / "parsed")
        assert cache.loads(encode(valid_doc()), SOURCE).name == "churn"
        cache.save()
        if os.geteuid() != 0:  # root writes anyway; the point is that save never raises
            assert not (folder / "parsed").exists()
    finally:
        folder.chmod(0o700)


def _equal(a: Any, b: Any) -> bool:
    """Equality that also holds for NaN and tells 1 from 1.0 and True (TOML types differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


scalars = (st.text(max_size=8) | st.integers(-(2**63), 2**63 - 1) | st.booleans()
           | st.floats())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.text(max_size=6), values, max_size=4),
       metrics=st.dictionaries(st.text(max_size=6), values, max_size=4))
def test_a_cached_parse_is_the_parse(tmp_path: Path, params: dict[str, Any],
                                     metrics: dict[str, Any]) -> None:
    data = encode({**valid_doc(), "params": params, "metrics": metrics})
    fresh = loads(data, SOURCE)
    path = tmp_path / "parsed"
    path.unlink(missing_ok=True)
    first = ParseCache(path)
    first.loads(data, SOURCE)
    first.save()
    cached = ParseCache(path).loads(data, SOURCE)
    assert _equal(modelfile._record(cached), modelfile._record(fresh))
