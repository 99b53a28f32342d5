"""Settings: .gitmodel.toml values and their `git config model.*` overrides, read strictly."""

from __future__ import annotations

import pytest
from conftest import Repo, random_bytes
from hypothesis import given
from hypothesis import strategies as st

from gitmodel import config
from gitmodel.errors import ConfigError


@given(st.integers(0, 1 << 40), st.sampled_from(["", "k", "m", "g"]),
       st.sampled_from(["", "b", "ib"]), st.booleans(), st.booleans())
def test_sizes_in_git_style(number: int, unit: str, suffix: str, upper: bool, space: bool) -> None:
    text = f"{number}{' ' if space else ''}{unit}{suffix if unit else ''}"
    text = text.upper() if upper else text
    factor = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
    assert config.parse_size(text, "x") == number * factor
    assert config.parse_size(number, "x") == number


@pytest.mark.parametrize("bad", ["", "m", "-5", "1.5m", "5t", "²", "ten", True, 1.5, None, [1]])
def test_a_size_that_is_not_one_is_refused_by_name(bad: object) -> None:
    with pytest.raises(ConfigError, match="where-it-came-from"):
        config.parse_size(bad, "where-it-came-from")


def test_max_binary_size_takes_git_style_sizes(repo: Repo) -> None:
    repo.git("config", "model.maxBinarySize", "64k")
    assert config.load(repo.root).max_binary_size == 64 << 10
    # the pre-commit check uses it: 100 KB of raw bytes is now over the limit
    repo.write("big.bin", random_bytes(100_000, 1))
    repo.git("add", "big.bin")
    result = repo.git("commit", "-m", "x", check=False)
    assert result.returncode != 0 and "big.bin" in result.stderr
    repo.git("config", "model.maxBinarySize", "50x")
    out = repo.model("status", check=False)
    assert out.returncode == 1 and "git config model.maxBinarySize is '50x'" in out.stderr


def test_a_quoted_false_is_refused_not_read_as_true(repo: Repo) -> None:
    text = (repo.root / ".gitmodel.toml").read_text()
    assert "[core]" in text
    (repo.root / ".gitmodel.toml").write_text(text.replace("[core]", '[core]\nauto_fetch = "false"'))
    out = repo.model("status", check=False)
    assert out.returncode == 1
    assert "core.auto_fetch must be true or false" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    (repo.root / ".gitmodel.toml").write_text(text.replace("[core]", "[core]\nauto_fetch = false"))
    assert config.load(repo.root).auto_fetch is False


def test_a_settings_file_that_is_a_folder_is_an_error_not_ignored(repo: Repo) -> None:
    (repo.root / ".gitmodel.toml").unlink()
    (repo.root / ".gitmodel.toml").mkdir()
    out = repo.model("status", check=False)
    assert out.returncode == 1 and ".gitmodel.toml is not a file" in out.stderr
