"""The pre-commit hook refuses commits that would lose or corrupt a model."""

from __future__ import annotations

from conftest import Repo, random_bytes

ART = "models/m.pt"
MODEL_FILE = ART + ".model.toml"


def refused(repo: Repo, message: str = "attempt") -> str:
    result = repo.git("commit", "-m", message, check=False)
    assert result.returncode != 0, "the commit should have been refused"
    assert "commit refused" in result.stderr
    return result.stderr


def added(repo: Repo) -> None:
    repo.write(ART, random_bytes(5000, 1))
    repo.model("add", ART)


def test_clean_commit_passes(repo: Repo) -> None:
    added(repo)
    repo.commit("ok")


def test_malformed_model_file(repo: Repo) -> None:
    added(repo)
    repo.write(MODEL_FILE, "format = 1\nname = [unclosed\n")
    repo.git("add", MODEL_FILE)
    assert "invalid model file models/m.pt.model.toml: not valid TOML" in refused(repo)


def test_missing_object(repo: Repo) -> None:
    added(repo)
    text = (repo.root / MODEL_FILE).read_text()
    oid_line = next(line for line in text.splitlines() if line.startswith("oid = "))
    repo.write(MODEL_FILE, text.replace(oid_line, 'oid = "sha256:' + "ab" * 32 + '"'))
    repo.git("add", MODEL_FILE)
    assert "not in the cache" in refused(repo)


def test_artifact_modified_but_not_readded(repo: Repo) -> None:
    added(repo)
    repo.write(ART, random_bytes(5000, 2))
    stderr = refused(repo)
    assert "changed since `git model add`" in stderr
    assert f"git model add {ART}" in stderr
    repo.model("add", ART)
    repo.commit("now it passes")


def test_large_binary_refused_and_large_csv_passes(repo: Repo) -> None:
    repo.git("config", "model.maxBinarySize", "100000")  # the smallest allowed is 64 KiB
    repo.write("weights.dat", b"\0" + random_bytes(200_000, 3))
    repo.git("add", "weights.dat")
    stderr = refused(repo)
    assert "binary file of 0.2 MiB is staged into git" in stderr
    assert "git model add weights.dat" in stderr
    repo.git("rm", "-q", "--cached", "weights.dat")
    repo.write("table.csv", "a,b\n" * 100_000)
    repo.git("add", "table.csv")
    repo.commit("a large csv is fine")


def test_known_model_format_refused_at_default_limit(repo: Repo) -> None:
    (repo.root / "big.safetensors").write_bytes(b"x" * (10 * 1024 * 1024 + 1))
    repo.git("add", "big.safetensors")
    assert "a model artifact of 10.0 MiB" in refused(repo)


def test_raw_weights_are_called_an_artifact_as_the_docs_say(repo: Repo) -> None:
    """docs/ keep "model file" for the committed TOML; a raw 11 MiB big.bin is an artifact."""
    repo.write("big.bin", random_bytes(11 << 20, 5))
    repo.git("add", "big.bin")
    stderr = refused(repo)
    assert "big.bin: a model artifact of 11.0 MiB is staged into git" in stderr
    assert "model file" not in stderr
    assert "git rm --cached big.bin && git model add big.bin" in stderr


def test_small_model_format_passes(repo: Repo) -> None:
    repo.write("tiny.pkl", random_bytes(100, 4))
    repo.git("add", "tiny.pkl")
    repo.commit("tiny pickles are allowed")


def test_duplicate_names_refused(repo: Repo) -> None:
    added(repo)
    repo.write("other/m.pt", random_bytes(100, 5))
    repo.model("add", "other/m.pt", "--name", "m2")
    text = (repo.root / "other/m.pt.model.toml").read_text().replace('name = "m2"', 'name = "m"')
    repo.write("other/m.pt.model.toml", text)
    repo.git("add", "other/m.pt.model.toml")
    assert "is used by both" in refused(repo)


def test_model_file_naming_a_tracked_file_refused(repo: Repo) -> None:
    added(repo)
    text = (repo.root / MODEL_FILE).read_text()
    repo.write("models/code.py", "print()\n")
    repo.git("add", "models/code.py")
    hijack = text.replace('artifact = "m.pt"', 'artifact = "code.py"').replace(
        'path = "m.pt"', 'path = "code.py"')
    repo.write(MODEL_FILE, hijack)
    repo.git("add", MODEL_FILE)
    assert "which git tracks" in refused(repo)


def test_check_command_matches_the_hook(repo: Repo) -> None:
    added(repo)
    repo.write(ART, random_bytes(5000, 9))
    result = repo.model("check", check=False)
    assert result.returncode == 1
    assert "changed since `git model add`" in result.stderr


def break_interpreter(repo: Repo) -> None:
    hook = repo.root / ".git/hooks/pre-commit"
    hook.write_text(hook.read_text().replace("GITMODEL_PYTHON='", "GITMODEL_PYTHON='/gone"))


def test_code_only_commit_does_not_start_python(repo: Repo) -> None:
    break_interpreter(repo)  # Python would refuse loudly if it were started
    repo.write("code.py", "x = 1\n" * 1000)
    repo.git("add", "code.py")
    repo.commit("code only")
    repo.write("big.txt", "y\n" * 40_000)  # 80 KB: Python is needed to judge it
    repo.git("add", "big.txt")
    result = repo.git("commit", "-m", "big", check=False)
    assert result.returncode != 0 and "is gone" in result.stderr


def test_staged_model_file_starts_python(repo: Repo) -> None:
    added(repo)
    break_interpreter(repo)
    result = repo.git("commit", "-m", "model", check=False)
    assert result.returncode != 0 and "is gone" in result.stderr


def test_size_limit_below_the_hook_prefilter_is_refused(repo: Repo) -> None:
    repo.git("config", "model.maxBinarySize", "1000")
    result = repo.model("check", check=False)
    assert result.returncode == 1 and "below the smallest limit" in result.stderr


def test_a_staged_artifact_is_refused_whatever_its_size(repo: Repo) -> None:
    """The symptom of a lost ignore line (issue 9): `git add -A` stages a small artifact that a
    model file in the index describes. The commit is refused, by the hook and by `check`."""
    repo.write("models/small.bin", random_bytes(3000, 1))
    repo.write("models/bert/vocab.txt", "a\nb\n")
    repo.model("add", "models/small.bin")
    repo.model("add", "models/bert", "--name", "bert")
    repo.commit("models")
    (repo.root / "models/.gitignore").unlink()  # as a racing add once left it
    repo.git("add", "-A")
    result = repo.git("commit", "-m", "oops", check=False)
    assert result.returncode != 0
    assert "models/small.bin: is the artifact of models/small.bin.model.toml" in result.stderr
    assert "models/bert/vocab.txt: is inside the artifact of models/bert.model.toml" in \
        result.stderr
    check = repo.model("check", check=False)
    assert check.returncode == 1 and "git rm --cached models/small.bin" in check.stderr
    # a file merely named like one, with no model file, commits as usual
    repo.git("reset", "-q")
    repo.write("notes/small.bin", random_bytes(3000, 2))
    repo.git("add", "notes/small.bin")
    repo.commit("notes")
