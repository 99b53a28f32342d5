"""gitmodel.lineage.data through `git model add --data`: Git LFS and DVC inputs recorded from
their pointers without reading the data; files and folders hashed as before."""

from __future__ import annotations

import hashlib

import pytest
from conftest import Repo

from gitmodel import modelfile
from gitmodel.lineage.data import lfs_pointer

CONTENT = b"the training data, as LFS would check it out\n"
OID = hashlib.sha256(CONTENT).hexdigest()
POINTER = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\n"
           f"size {len(CONTENT)}\n").encode()


def recorded(repo: Repo) -> modelfile.ModelFile:
    path = repo.root / "models/m.pt.model.toml"
    return modelfile.loads(path.read_bytes(), str(path))


def test_lfs_pointer_parsing() -> None:
    assert lfs_pointer(POINTER) == (f"sha256:{OID}", len(CONTENT))
    ext = POINTER.replace(b"oid", b"ext-0-foo sha256:" + b"1" * 64 + b"\noid", 1)
    assert lfs_pointer(ext) == (f"sha256:{OID}", len(CONTENT))
    for bad in (POINTER + b"x", POINTER.replace(b"size ", b"size -"), POINTER[:-1],
                POINTER.replace(b"sha256:", b"sha1:"), b"", POINTER + b"k v\n" * 300,
                POINTER.replace(b"version", b"Version")):
        assert lfs_pointer(bad) is None


@pytest.fixture
def lfs_repo(repo: Repo) -> Repo:
    """A repo where git tracks data/events.bin as an LFS pointer (committed as LFS's clean
    filter would have stored it; git-lfs itself is not needed to read one)."""
    repo.write("data/events.bin", POINTER)
    repo.git("add", "data/events.bin")
    repo.commit("data via LFS")
    repo.write("models/m.pt", b"weights")
    return repo


def test_an_lfs_pointer_not_checked_out_is_recorded_from_the_pointer(lfs_repo: Repo) -> None:
    lfs_repo.model("add", "models/m.pt", "--data", "data/events.bin")
    (entry,) = recorded(lfs_repo).data
    assert (entry.path, entry.oid, entry.size, entry.source) == (
        "data/events.bin", f"sha256:{OID}", len(CONTENT), "lfs")


def test_checked_out_lfs_content_is_not_read(lfs_repo: Repo) -> None:
    # same size as the pointer says, other bytes: the recorded oid is the pointer's, so the
    # 10 GB file LFS checked out is never read
    lfs_repo.write("data/events.bin", b"x" * len(CONTENT))
    lfs_repo.model("add", "models/m.pt", "--data", "data/events.bin")
    assert recorded(lfs_repo).data[0].oid == f"sha256:{OID}"


def test_lfs_data_changed_since_the_commit_is_hashed(lfs_repo: Repo) -> None:
    lfs_repo.write("data/events.bin", b"new data of another size")
    lfs_repo.model("add", "models/m.pt", "--data", "data/events.bin")
    (entry,) = recorded(lfs_repo).data
    assert entry.source == "" and entry.oid == "sha256:" + hashlib.sha256(
        b"new data of another size").hexdigest()


DVC_FILE = """outs:
- md5: 3c5a1f0e2d4b6a8c9e7f1d3b5a7c9e1f.dir
  size: 73400320
  nfiles: 812
  hash: md5
  path: raw
"""


@pytest.mark.parametrize("given", ["data/raw", "data/raw.dvc"])
def test_a_dvc_input_is_recorded_from_its_dvc_file(repo: Repo, given: str) -> None:
    repo.write("data/raw.dvc", DVC_FILE)  # the data itself is not even here
    repo.write("models/m.pt", b"weights")
    repo.model("add", "models/m.pt", "--data", given)
    (entry,) = recorded(repo).data
    assert entry == modelfile.DataInput(
        "data/raw", "sha256:" + hashlib.sha256(DVC_FILE.encode()).hexdigest(), 73400320,
        source="dvc", pointer="data/raw.dvc", md5="3c5a1f0e2d4b6a8c9e7f1d3b5a7c9e1f.dir")


@pytest.mark.parametrize(("text", "says"), [
    ("outs: [\n", "not a valid DVC file"),
    ("outs:\n- path: raw\n", "records no md5"),
    ("outs:\n- md5: xyz\n  path: raw\n", "records no md5"),
    ("deps: []\n", "one entry under 'outs'"),
    ("outs:\n- md5: " + "0" * 32 + "\n  path: ../../etc\n", "outs path"),
])
def test_a_broken_dvc_file_fails_clearly_and_adds_nothing(repo: Repo, text: str,
                                                          says: str) -> None:
    repo.write("data/raw.dvc", text)
    repo.write("models/m.pt", b"weights")
    result = repo.model("add", "models/m.pt", "--data", "data/raw", check=False)
    assert result.returncode == 1 and says in result.stderr
    assert "Traceback" not in result.stderr
    assert not (repo.root / "models/m.pt.model.toml").exists()


def test_plain_files_and_folders_are_hashed_as_before(repo: Repo) -> None:
    repo.write("data/train.csv", b"a,b\n1,2\n")
    repo.write("data/images/cat/001.png", b"cat")
    repo.write("models/m.pt", b"weights")
    repo.model("add", "models/m.pt", "--data", "data/train.csv", "--data", "data/images")
    entries = {d.path: d for d in recorded(repo).data}
    assert entries["data/train.csv"].oid == "sha256:" + hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    listing = f"sha256:{hashlib.sha256(b'cat').hexdigest()} 3 cat/001.png\n".encode()
    assert entries["data/images"].oid == "sha256:" + hashlib.sha256(listing).hexdigest()
    assert {d.source for d in entries.values()} == {""}
