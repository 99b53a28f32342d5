"""The storage lifecycle of a chunked store through the CLI in a real repository with a real
directory remote: `du` shows stored bytes and the dedup ratio, `gc` drops the chunks only a
released version had and keeps the ones a kept version shares, `fsck` names the model and version
a corrupt chunk hurts and `fsck --repair` heals it from the remote, byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from conftest import Repo, make_repo, random_bytes
from test_chunked_repo import recipes_are_whole

from gitmodel.store.packs import ChunkIndex, Recipe

ART = "models/m.bin"
SIZE = 600_000
STRICT = ("--grace", "0", "--keep-days", "0", "--keep-versions", "1")


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def series(tmp_path: Path) -> tuple[Repo, list[bytes]]:
    """Four tagged versions of one model, each rewriting a sixth of the last; pushed."""
    repo = make_repo(tmp_path / "repo")
    repo.git("config", "model.chunkThreshold", "64k")
    (tmp_path / "remote").mkdir()
    repo.model("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    repo.commit("remote")
    data = random_bytes(SIZE, 1)
    datas = []
    for n in range(4):
        at = n * (SIZE // 6)
        data = data[:at] + random_bytes(SIZE // 6, 10 + n) + data[at + SIZE // 6:]
        repo.write(ART, data)
        repo.model("add", ART)
        repo.commit(f"v{n}")
        repo.model("tag", "m", f"v1.{n}.0")
        repo.model("push")
        datas.append(data)
    return repo, datas


def cache(repo: Repo) -> Path:
    return repo.root / ".git" / "model"


def test_du_shows_stored_bytes_and_the_dedup_ratio(series: tuple[Repo, list[bytes]]) -> None:
    repo, _datas = series
    report = json.loads(repo.model("du", "--json").stdout)
    model = next(m for m in report["models"] if m["model"] == "m")
    assert model["versions_logical_bytes"] == 4 * SIZE
    # four versions, each 1/6 new: (1 + 3/6) * SIZE unique, plus the chunks each edit's
    # boundaries cut (~9 chunks of 64 KiB per version here): measured 2.2 * SIZE, ratio 1.82
    assert model["versions_stored_bytes"] < 2.5 * SIZE
    assert model["dedup_ratio"] > 1.6
    assert {v["version"] for v in model["versions"]} >= {"v1.0.0", "v1.3.0"}
    assert all(v["stored_bytes"] <= v["bytes"] for v in model["versions"])
    totals = report["totals"]
    assert totals["chunked_objects"] == 4
    assert totals["stored_bytes"] < totals["logical_bytes"]
    assert totals["dedup_ratio"] > 1.5
    text = repo.model("du").stdout
    assert "dedup ratio" in text


def test_gc_keeps_the_chunks_a_kept_version_shares_with_released_ones(
        series: tuple[Repo, list[bytes]]) -> None:
    repo, datas = series
    store = cache(repo)
    before = sum(p.stat().st_size for p in (store / "packs").glob("*.pack"))
    report = json.loads(repo.model("gc", "--json", *STRICT).stdout)
    removed = {o["oid"] for o in report["removed"]}
    assert oid_of(datas[0]) in removed and oid_of(datas[3]) not in removed
    packs = report["packs"]
    assert packs["deleted"] or packs["rewritten"]
    after = sum(p.stat().st_size for p in (store / "packs").glob("*.pack"))
    assert after < before * 0.75
    assert report["freed"] > 0
    recipes_are_whole(store)
    (repo.root / ART).unlink()
    repo.model("checkout")
    assert (repo.root / ART).read_bytes() == datas[3]
    # and a released version still checks out, from the remote
    repo.git("checkout", "-q", "m@v1.0.0")
    repo.model("pull")
    assert (repo.root / ART).read_bytes() == datas[0]


def test_gc_dry_run_plans_the_pack_pass_and_changes_nothing(
        series: tuple[Repo, list[bytes]]) -> None:
    repo, _datas = series
    store = cache(repo)
    names = sorted(p.name for p in (store / "packs").iterdir())
    report = json.loads(repo.model("gc", "--json", "--dry-run", *STRICT).stdout)
    assert report["packs"]["would_free"] > 0
    assert report["packs"]["rewrite"] + report["packs"]["delete"] >= 1
    assert sorted(p.name for p in (store / "packs").iterdir()) == names


def test_gc_of_a_young_pack_keeps_it(series: tuple[Repo, list[bytes]]) -> None:
    repo, _datas = series
    store = cache(repo)
    names = sorted(p.name for p in (store / "packs").iterdir())
    report = json.loads(repo.model("gc", "--json", "--grace", "1h", "--keep-days", "0",
                                   "--keep-versions", "1").stdout)
    assert not report["packs"]["deleted"] and not report["packs"]["rewritten"]
    assert sorted(p.name for p in (store / "packs").iterdir()) == names


def _flip_a_byte_of(store: Path, data: bytes, others: list[bytes]) -> str:
    """Flip one byte of a chunk only ``data``'s recipe names; return that pack's name."""
    def chunks(d: bytes) -> set[bytes]:
        digest = hashlib.sha256(d).hexdigest()
        path = store / "recipes" / digest[:2] / digest[2:]
        return {c for c, _ in Recipe.decode(path.read_bytes(), expected_oid=None,
                                            source=str(path)).chunks}
    only = chunks(data) - set().union(*(chunks(o) for o in others))
    where = ChunkIndex.load(store / "packs").locate(sorted(only)[0])
    assert where is not None
    pack, offset, length = where
    os.chmod(pack, 0o644)
    with open(pack, "r+b") as stream:
        stream.seek(offset + length // 2)
        byte = stream.read(1)
        stream.seek(offset + length // 2)
        stream.write(bytes([byte[0] ^ 0x01]))
    return pack.name


def test_fsck_names_the_version_a_bad_chunk_hurts_and_repair_heals_it(
        series: tuple[Repo, list[bytes]]) -> None:
    repo, datas = series
    store = cache(repo)
    pack = _flip_a_byte_of(store, datas[1], [datas[0], datas[2], datas[3]])
    check = repo.model("fsck", "--json", check=False)
    assert check.returncode == 1
    report = json.loads(check.stdout)
    corrupt = [f for f in report["findings"] if f["problem"] == "corrupt"]
    assert [f["oid"] for f in corrupt] == [oid_of(datas[1])]
    assert any(u["version"] == "m@v1.1.0" for u in corrupt[0]["uses"])
    assert "does not match its id" in corrupt[0]["detail"]
    assert [p["pack"] for p in report["packs"]] == [pack]
    text = repo.model("fsck", check=False).stdout
    assert "model m" in text and "m@v1.1.0" in text and pack in text
    repaired = repo.model("fsck", "--repair", "--json", check=False)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    fixed = json.loads(repaired.stdout)
    assert all(f["repaired"] for f in fixed["findings"])
    assert fixed["packs"][0]["repaired"] and fixed["packs"][0]["rescued_chunks"] > 0
    assert not (store / "packs" / pack).exists()
    assert list((store / "quarantine" / "packs").glob(f"*{pack}"))
    assert repo.model("fsck", check=False).returncode == 0  # healed: nothing left to report
    for n, data in enumerate(datas):  # every version, byte for byte
        repo.git("checkout", "-q", f"m@v1.{n}.0")
        repo.model("checkout")
        assert (repo.root / ART).read_bytes() == data, n
    recipes_are_whole(store)


def test_a_damaged_index_is_reported_and_its_objects_healed(
        series: tuple[Repo, list[bytes]]) -> None:
    repo, datas = series
    store = cache(repo)
    idx = sorted((store / "packs").glob("*.idx"))[0]
    os.chmod(idx, 0o644)
    raw = bytearray(idx.read_bytes())
    raw[-1] ^= 0x80  # the checksum no longer matches
    idx.write_bytes(bytes(raw))
    report = json.loads(repo.model("fsck", "--json", check=False).stdout)
    assert [p["problem"] for p in report["packs"]] == ["damaged"]
    assert any(f["problem"] == "corrupt" for f in report["findings"])
    fixed = repo.model("fsck", "--repair", "--json", check=False)
    assert fixed.returncode == 0, fixed.stdout
    for n, data in enumerate(datas):
        repo.git("checkout", "-q", f"m@v1.{n}.0")
        repo.model("checkout")
        assert (repo.root / ART).read_bytes() == data, n
