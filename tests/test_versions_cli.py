"""Using versions (issue 3): checkout of a version without moving HEAD, rollback, diff, the Python
API, check-ref for CI, signed tags and verify."""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Repo, random_bytes, sha256_file
from hypothesis import assume, example, given
from hypothesis import strategies as st

import gitmodel
from gitmodel import catalog
from gitmodel.errors import GitmodelError, VersionError

ART = "models/clf.pt"
MODEL_FILE = ART + ".model.toml"


def commit_model(repo: Repo, seed: int, *extra: str) -> str:
    repo.write(ART, random_bytes(3000, seed))
    repo.model("add", ART, *extra)
    repo.commit(f"model {seed}")
    return repo.git("rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def two_versions(repo: Repo) -> Repo:
    commit_model(repo, 1, "--metric", "accuracy=0.9", "--param", "lr=0.1", "--param", "depth=3")
    repo.model("tag", "v1.0.0")
    commit_model(repo, 2, "--metric", "accuracy=0.95", "--param", "lr=0.2", "--param", "depth=3")
    repo.model("tag", "v1.1.0")
    repo.model("assign", "clf", "v1.0.0", "prod")
    return repo


def test_checkout_of_a_version_with_plain_git_and_with_git_model(two_versions: Repo) -> None:
    repo = two_versions
    v1 = random_bytes(3000, 1)
    v2 = random_bytes(3000, 2)
    head = repo.git("rev-parse", "HEAD").stdout.strip()
    # git model checkout SPEC: that version's model file and artifact, HEAD stays
    out = repo.model("checkout", "clf@v1.0.0")
    assert (repo.root / ART).read_bytes() == v1
    assert repo.git("rev-parse", "HEAD").stdout.strip() == head
    assert repo.git("show", f"clf@v1.0.0:{MODEL_FILE}").stdout == \
        (repo.root / MODEL_FILE).read_text()
    assert "restored clf" in out.stdout
    assert repo.model("status", "--json").stdout.count('"clean"') >= 1
    repo.model("checkout", "clf#prod")  # the same version again: nothing to write
    repo.git("checkout", "-q", "--", MODEL_FILE)  # back to HEAD's model file
    repo.model("checkout", "clf")
    assert (repo.root / ART).read_bytes() == v2
    # plain git: the hook restores the version's bytes
    repo.git("checkout", "-q", "clf@v1.0.0")
    assert (repo.root / ART).read_bytes() == v1
    repo.git("checkout", "-q", "main")
    assert (repo.root / ART).read_bytes() == v2


def test_rollback_makes_a_new_commit_and_never_rewrites_history(two_versions: Repo) -> None:
    repo = two_versions
    before = repo.git("rev-list", "HEAD").stdout.split()
    out = repo.model("rollback", "clf", "v1.0.0")
    assert "rolled clf back to v1.0.0" in out.stdout
    after = repo.git("rev-list", "HEAD").stdout.split()
    assert after[1:] == before and len(after) == len(before) + 1
    assert repo.git("show", f"HEAD:{MODEL_FILE}").stdout == \
        repo.git("show", f"clf@v1.0.0:{MODEL_FILE}").stdout
    assert (repo.root / ART).read_bytes() == random_bytes(3000, 1)
    assert repo.git("status", "--porcelain").stdout == ""
    # ready to tag
    repo.model("tag", "clf", "--bump", "patch")
    assert catalog.show("clf@v1.1.1", repo.root).spec.oids == \
        catalog.show("clf@v1.0.0", repo.root).spec.oids
    err = repo.model("rollback", "clf", "v1.0.0", check=False)
    assert err.returncode == 1 and "already holds" in err.stderr


def test_diff_params_metrics_with_deltas_and_files(two_versions: Repo) -> None:
    repo = two_versions
    out = repo.model("diff", "clf@v1.0.0", "clf@v1.1.0").stdout
    assert "lr: 0.1 -> 0.2" in out and "depth" not in out
    assert "accuracy: 0.9 -> 0.95 (+0.05)" in out
    assert "modified clf.pt" in out
    data = json.loads(repo.model("diff", "clf@v1.0.0", "clf@v1.1.0", "--json").stdout)
    (metric,) = data["metrics"]
    # exactly the user's 0.05, not 0.95 - 0.9 = 0.04999999999999993 (issue 7)
    assert metric["key"] == "accuracy" and metric["delta"] == 0.05
    assert '"delta": 0.05,' in repo.model("diff", "clf@v1.0.0", "clf@v1.1.0", "--json").stdout
    assert data["files"][0]["status"] == "modified"
    d = gitmodel.diff("clf#prod", "clf@latest", cwd=repo.root)
    assert d.old.version == "v1.0.0" and d.new.version == "v1.1.0"
    assert repo.model("diff", "clf@v1.1.0", "clf").stdout.count("no changes") == 1


def test_python_api_diff_delta_is_the_users_number(two_versions: Repo) -> None:
    (metric,) = gitmodel.diff("clf@v1.0.0", "clf@v1.1.0", cwd=two_versions.root).metrics
    assert repr(metric.delta) == "0.05"


# Numbers as a user or a metrics file writes them: a few significant digits, a few places.
user_numbers = st.builds(lambda m, e: Decimal(m).scaleb(e),
                         st.integers(-10**7, 10**7), st.integers(-9, 3))


@given(user_numbers, user_numbers)
def test_delta_of_user_numbers_is_their_exact_difference(a: Decimal, b: Decimal) -> None:
    # a double holds any decimal of up to 15 significant digits: so can the delta, then
    assume(len((b - a).normalize().as_tuple().digits) <= 15)
    old, new = float(str(a)), float(str(b))
    delta = catalog.metric_delta(old, new)
    # prints as the difference the user would work out by hand ...
    assert Decimal(repr(delta)) == (b - a)
    # ... and compares as their numbers do
    assert (delta > 0) == (new > old) and (delta == 0) == (new == old)


@given(st.floats(allow_nan=False, allow_infinity=False),
       st.floats(allow_nan=False, allow_infinity=False))
# Near-cancelling large numbers: each repr is within half an ulp of its float, so the decimal
# delta may differ from the float one by about an ulp of the operands, far more than 1e-15 of
# the (small) delta; a fresh clone's hypothesis run found this one.
@example(old=-5.715361358623593e16, new=-5.839167145884584e16)
def test_delta_of_any_floats_keeps_the_order_and_is_close(old: float, new: float) -> None:
    delta = catalog.metric_delta(old, new)
    assert (delta > 0) == (new > old) and (delta < 0) == (new < old)
    exact = new - old
    if math.isfinite(exact):
        # the reprs differ from the floats by at most half an ulp each; one more for rounding
        slack = math.ulp(old) + math.ulp(new) + math.ulp(exact)
        assert abs(delta - exact) <= slack


@given(st.integers(-10**30, 10**30), st.integers(-10**30, 10**30))
def test_delta_of_integers_is_exact(old: int, new: int) -> None:
    assert catalog.metric_delta(old, new) == new - old


def test_python_api_resolves_a_stage_to_byte_identical_read_only_files(
        two_versions: Repo) -> None:
    repo = two_versions
    status_before = repo.git("status", "--porcelain").stdout
    artifact_before = (repo.root / ART).read_bytes()
    path = gitmodel.resolve("clf#prod", cwd=repo.root)
    assert path.read_bytes() == random_bytes(3000, 1)
    assert sha256_file(path) == catalog.show("clf@v1.0.0", repo.root).files[0].oid[7:]
    assert not stat.S_IMODE(path.stat().st_mode) & 0o222
    assert str(path).startswith(str(repo.root / ".git/model/resolved"))
    assert gitmodel.resolve("clf@v1.0.0", cwd=repo.root) == path  # cached
    assert (repo.root / ART).read_bytes() == artifact_before
    assert repo.git("status", "--porcelain").stdout == status_before
    meta = gitmodel.show("clf@^1", cwd=repo.root)
    assert meta.version == "v1.1.0" and meta.metrics == {"accuracy": 0.95}
    assert [v.version for v in gitmodel.versions("clf", cwd=repo.root)] == ["v1.1.0", "v1.0.0"]
    assert gitmodel.stages("clf", cwd=repo.root)["prod"].version == "v1.0.0"
    with pytest.raises(VersionError, match=r"versions: v1\.1\.0, v1\.0\.0"):
        gitmodel.resolve("clf@^3", cwd=repo.root)


def test_resolve_a_directory_artifact(repo: Repo) -> None:
    repo.write("models/bert/config.json", "{}")
    repo.write("models/bert/weights/w.bin", random_bytes(500, 9))
    repo.model("add", "models/bert", "--name", "bert")
    repo.commit("bert")
    repo.model("tag", "bert", "v1.0.0")
    path = gitmodel.resolve("bert@latest", cwd=repo.root)
    assert path.name == "bert"
    assert (path / "weights/w.bin").read_bytes() == random_bytes(500, 9)
    assert (path / "config.json").read_text() == "{}"


def test_import_gitmodel_stays_cheap() -> None:
    code = ("import sys, gitmodel; "
            "print(sorted(m for m in sys.modules if m.startswith('gitmodel')))")
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True)  # type: ignore[attr-defined]
    assert out.stdout.strip() == "['gitmodel']"


def test_check_ref_for_ci(two_versions: Repo, tmp_path: Path) -> None:
    repo = two_versions
    data = json.loads(repo.model("check-ref", "refs/tags/clf#prod#1", "--json").stdout)
    assert data["event"] == "assignment" and data["model"] == "clf"
    assert data["version"] == "v1.0.0" and data["stage"] == "prod" and data["current"] is True
    assert data["commit"] == repo.git("rev-parse", "clf@v1.0.0^{}").stdout.strip()
    data = json.loads(repo.model("check-ref", "clf@v1.1.0", "--json").stdout)
    assert data["event"] == "registration" and data["version"] == "v1.1.0"
    data = json.loads(repo.model("check-ref", "refs/tags/release-1", "--json").stdout)
    assert data["registry"] is False
    # a shallow, tagless CI checkout: say so instead of answering wrongly
    clone = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.root}", str(clone)],
                   check=True)
    subprocess.run(["git", "fetch", "-q", "--no-tags", "origin",
                    "refs/tags/clf#prod#1:refs/tags/clf#prod#1"], cwd=clone, check=True)
    ci = Repo(clone)
    out = ci.model("check-ref", "refs/tags/clf#prod#1", "--json", check=False)
    assert out.returncode == 1 and "git fetch --force --tags" in out.stderr
    out = ci.model("check-ref", "refs/tags/clf@v1.0.0", "--json", check=False)
    assert out.returncode == 1 and "not in this clone" in out.stderr
    subprocess.run(["git", "fetch", "-q", "--force", "--tags", "origin"], cwd=clone, check=True)
    data = json.loads(ci.model("check-ref", "refs/tags/clf#prod#1", "--json").stdout)
    assert data["version"] == "v1.0.0" and data["current"] is True


def ssh_signing(repo: Repo, home: Path) -> None:
    key = home / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci@example.com", "-f",
                    str(key)], check=True)
    allowed = home / "allowed_signers"
    allowed.write_text(f"committer@example.com {(home / 'id_ed25519.pub').read_text()}")
    for key_, value in (("gpg.format", "ssh"), ("user.signingkey", str(key) + ".pub"),
                        ("gpg.ssh.allowedSignersFile", str(allowed))):
        repo.git("config", key_, value)


@pytest.mark.skipif(subprocess.run(["which", "ssh-keygen"], capture_output=True).returncode != 0,
                    reason="ssh-keygen is not installed")
def test_signed_tag_verified_and_tampering_caught(repo: Repo, tmp_path: Path) -> None:
    ssh_signing(repo, tmp_path)
    commit_model(repo, 1)
    out = repo.model("tag", "v1.0.0", "--sign")
    assert "(signed)" in out.stdout
    assert "-----BEGIN SSH SIGNATURE-----" in repo.git("cat-file", "-p", "clf@v1.0.0").stdout
    out = repo.model("verify", "clf@v1.0.0")
    assert "signature: good" in out.stdout and "object clf.pt: ok" in out.stdout
    data = json.loads(repo.model("verify", "clf@v1.0.0", "--json").stdout)
    assert data["ok"] is True and data["signed"] is True
    # a tampered object in the cache: verify says the objects failed, not the signature
    oid = catalog.show("clf@v1.0.0", repo.root).files[0].oid
    obj = repo.root / ".git/model/objects" / oid[7:9] / oid[9:]
    obj.chmod(0o644)
    obj.write_bytes(b"tampered")
    out = repo.model("verify", "clf@v1.0.0", check=False)
    assert out.returncode == 1
    assert "signature: good" in out.stdout and "FAILED: corrupt" in out.stdout
    assert "failed verification: objects" in out.stderr
    # a signature that no longer verifies (the signer is not allowed any more)
    (tmp_path / "allowed_signers").write_text("")
    out = repo.model("verify", "clf@v1.0.0", check=False)
    assert "signature: FAILED" in out.stdout and "signature, objects" in out.stderr
    # unsigned tags are reported as such
    commit_model(repo, 2)
    repo.model("tag", "v1.1.0")
    out = repo.model("verify", "clf@v1.1.0")
    assert "signature: none" in out.stdout


def test_verify_missing_object(repo: Repo) -> None:
    commit_model(repo, 1)
    repo.model("tag", "v1.0.0")
    oid = catalog.show("clf@v1.0.0", repo.root).files[0].oid
    obj = repo.root / ".git/model/objects" / oid[7:9] / oid[9:]
    obj.chmod(0o644)
    obj.unlink()
    out = repo.model("verify", "clf@v1.0.0", check=False)
    assert out.returncode == 1 and "missing from the cache" in out.stdout
    with pytest.raises(GitmodelError):
        gitmodel.resolve("clf@v1.0.0", cwd=repo.root)
