"""`[check] max_binary_size` (docs/config.md): the team's limit from the committed
.gitmodel.toml, overridden per clone by `git config model.maxBinarySize`, in bytes or as a size
like `50m`; the pre-commit hook and `git model check` both apply it."""

from __future__ import annotations

from conftest import Repo, random_bytes

BLOB = "weights.dat"


def set_team_limit(repo: Repo, value: str) -> None:
    path = repo.root / ".gitmodel.toml"
    text = path.read_text()
    assert "max_binary_size = 10485760" in text
    path.write_text(text.replace("max_binary_size = 10485760", f"max_binary_size = {value}"))
    repo.git("add", ".gitmodel.toml")
    repo.commit("team limit")


def stage_blob(repo: Repo, size: int) -> None:
    repo.write(BLOB, b"\0" + random_bytes(size - 1, size))
    repo.git("add", BLOB)


def commit_refused(repo: Repo) -> str:
    result = repo.git("commit", "-m", "blob", check=False)
    assert result.returncode != 0, result.stdout
    assert BLOB in result.stderr and "staged into git" in result.stderr, result.stderr
    check = repo.model("check", check=False)  # the command says the same as the hook
    assert check.returncode == 1 and BLOB in check.stderr
    return result.stderr


def test_the_committed_limit_applies_below_the_default(repo: Repo) -> None:
    set_team_limit(repo, "200000")
    stage_blob(repo, 150_000)
    repo.commit("150 KB is under the team's 200 KB")
    stage_blob(repo, 300_000)
    commit_refused(repo)


def test_the_committed_limit_applies_above_the_default(repo: Repo) -> None:
    set_team_limit(repo, '"12m"')  # a size string in the file too
    stage_blob(repo, 11 << 20)  # over the 10 MiB default, under the team's 12 MiB
    repo.commit("11 MiB is allowed here")
    assert repo.model("check").returncode == 0


def test_git_config_overrides_the_committed_limit_with_a_size(repo: Repo) -> None:
    set_team_limit(repo, "200000")
    stage_blob(repo, 300_000)
    commit_refused(repo)
    repo.git("config", "model.maxBinarySize", "1m")  # this clone: 1 MiB
    repo.commit("300 KB passes with the clone's 1m")
    repo.git("config", "model.maxBinarySize", "100k")  # and lower than the team's
    stage_blob(repo, 150_000)
    commit_refused(repo)
    repo.git("config", "--unset", "model.maxBinarySize")  # back to the committed 200 KB
    repo.commit("150 KB passes again")


def test_a_committed_limit_that_is_not_a_size_is_named(repo: Repo) -> None:
    set_team_limit(repo, '"lots"')
    result = repo.model("check", check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "max_binary_size" in lines[0] and "Traceback" not in result.stderr
