"""Versions and stages on tags (issue 3): tag, assign, list, show, history, and every refusal.

CLI tests run `git model` as a real process; the registry folding is also tested in-process on
real repos.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import Repo, random_bytes

from gitmodel import catalog, registry
from gitmodel.errors import ConfigError, GitmodelError, VersionError

ART = "models/clf.pt"
MODEL_FILE = ART + ".model.toml"


def commit_model(repo: Repo, seed: int, *extra: str, art: str = ART) -> str:
    repo.write(art, random_bytes(2000, seed))
    repo.model("add", art, *extra)
    repo.commit(f"model {seed}")
    return repo.git("rev-parse", "HEAD").stdout.strip()


def refused(result: object, *needles: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    err = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def tags(repo: Repo) -> list[str]:
    return sorted(repo.git("tag", "-l").stdout.split())


def test_tag_bump_prerelease_assign_list_show_history(repo: Repo) -> None:
    c1 = commit_model(repo, 1, "--metric", "accuracy=0.91", "--param", "lr=0.1")
    repo.model("tag", "clf", "v1.0.0", "-m", "baseline")
    c2 = commit_model(repo, 2, "--metric", "accuracy=0.93", "--param", "lr=0.2")
    out = repo.model("tag", "v1.1.0")  # NAME left out: one model
    assert "registered clf v1.1.0" in out.stdout
    c3 = commit_model(repo, 3)
    repo.model("tag", "clf", "--bump", "major", "--pre", "rc")
    assert "clf@v2.0.0-rc.1" in tags(repo)
    repo.model("tag", "clf", "--bump", "major")  # the release on the same commit (GTO #300)
    repo.model("assign", "clf", "v1.1.0", "prod")
    repo.model("assign", "clf", "^1", "staging")
    assert tags(repo) == sorted(["clf@v1.0.0", "clf@v1.1.0", "clf@v2.0.0-rc.1", "clf@v2.0.0",
                                 "clf#prod#1", "clf#staging#2"])
    # the message is a human line, then trailers git itself reads
    trailers = repo.git("for-each-ref", "--format=%(contents:subject)|%(trailers:key=Model-Oid,"
                        "valueonly,separator=%x2c)", "refs/tags/clf@v1.0.0").stdout.strip()
    assert trailers.startswith("baseline|sha256:")
    kv = repo.git("for-each-ref", "--format=%(trailers:key=Metric,valueonly)",
                  "refs/tags/clf@v1.0.0").stdout.strip()
    assert kv == "accuracy=0.91"
    assert repo.git("rev-parse", "clf@v2.0.0^{}").stdout.strip() == c3

    listing = json.loads(repo.model("list", "--json").stdout)
    (m,) = listing["models"]
    assert m["name"] == "clf" and m["latest"] == "v2.0.0" and m["greatest"] == "v2.0.0"
    assert m["stages"] == {"prod": "v1.1.0", "staging": "v1.1.0"}
    assert m["size"] == 2000 and listing["warnings"] == []
    assert "prod=v1.1.0" in repo.model("list").stdout

    shown = json.loads(repo.model("show", "clf#prod", "--json").stdout)
    assert shown["version"] == "v1.1.0" and shown["commit"] == c2
    assert shown["metrics"] == {"accuracy": 0.93} and shown["params"] == {"lr": 0.2}
    assert shown["tagger"] == "Test Committer" and shown["stages"] == ["prod", "staging"]
    assert shown["files"][0]["path"] == "clf.pt" and shown["files"][0]["size"] == 2000
    assert json.loads(repo.model("show", "clf@1.0", "--json").stdout)["commit"] == c1
    assert json.loads(repo.model("show", "clf@latest", "--json").stdout)["version"] == "v2.0.0"
    assert json.loads(repo.model("show", "clf@^2.0.0-rc.1", "--json").stdout)["version"] == \
        "v2.0.0"
    assert json.loads(repo.model("show", "clf@v2.0.0-rc.1", "--json").stdout)["commit"] == c3
    assert json.loads(repo.model("show", "clf", "--json").stdout)["version"] is None

    events = json.loads(repo.model("history", "clf", "--json").stdout)
    assert [(e["event"], e["version"], e["stage"]) for e in events] == [
        ("assignment", "v1.1.0", "staging"), ("assignment", "v1.1.0", "prod"),
        ("registration", "v2.0.0", None), ("registration", "v2.0.0-rc.1", None),
        ("registration", "v1.1.0", None), ("registration", "v1.0.0", None)]
    assert "v1.1.0 -> prod" in repo.model("history", "clf").stdout


def test_unassign_falls_back_to_the_previous_version_and_deregister_drops_stages(
        repo: Repo) -> None:
    commit_model(repo, 1)
    repo.model("tag", "v1.0.0")
    commit_model(repo, 2)
    repo.model("tag", "v1.1.0")
    repo.model("assign", "clf", "v1.0.0", "prod")
    repo.model("assign", "clf", "v1.1.0", "prod")
    assert catalog.show("clf#prod", repo.root).version == "v1.1.0"
    repo.model("unassign", "clf", "prod")
    assert "clf#prod!#3" in tags(repo)
    assert catalog.show("clf#prod", repo.root).version == "v1.0.0"
    repo.model("assign", "clf", "v1.1.0", "prod")
    repo.model("deregister", "clf", "v1.1.0")
    assert "clf@v1.1.0!" in tags(repo)
    assert catalog.show("clf#prod", repo.root).version == "v1.0.0"
    refused(repo.model("show", "clf@v1.1.0", check=False), "no version of clf matches v1.1.0",
            "deregistered: v1.1.0")
    repo.model("deprecate", "clf")
    data = json.loads(repo.model("list", "--json").stdout)
    assert data["models"][0]["deprecated"] is True
    assert "(deprecated)" in repo.model("list").stdout
    refused(repo.model("deprecate", "clf", check=False), "already deprecated")


def test_stage_policy_allowlist_and_promotion_order(repo: Repo) -> None:
    with open(repo.root / ".gitmodel.toml", "a") as stream:
        stream.write('\n[stages]\nallowed = ["dev", "staging", "prod"]\n'
                     'order = ["dev", "staging", "prod"]\n')
    repo.git("add", ".gitmodel.toml")
    commit_model(repo, 1)
    repo.model("tag", "v1.0.0")
    before = tags(repo)
    refused(repo.model("assign", "clf", "v1.0.0", "qa", check=False),
            "stage 'qa' is not allowed", "dev, staging, prod")
    refused(repo.model("assign", "clf", "v1.0.0", "prod", check=False),
            "never in staging", "git model assign clf v1.0.0 staging", "--force")
    refused(repo.model("assign", "clf", "v1.0.0", "Prod", check=False), "invalid stage")
    assert tags(repo) == before
    repo.model("assign", "clf", "v1.0.0", "dev")
    repo.model("assign", "clf", "v1.0.0", "staging")
    repo.model("assign", "clf", "v1.0.0", "prod")
    refused(repo.model("assign", "clf", "v1.0.0", "prod", check=False), "already in prod")
    commit_model(repo, 2)
    repo.model("tag", "v1.1.0")
    repo.model("assign", "clf", "v1.1.0", "prod", "--force")
    assert catalog.show("clf#prod", repo.root).version == "v1.1.0"


def test_stage_policy_parsing() -> None:
    assert registry.stage_policy({}) == registry.StagePolicy()
    policy = registry.stage_policy({"stages": {"allowed": ["dev", "prod"], "order": ["dev"]}})
    assert policy.allowed == ("dev", "prod") and policy.order == ("dev",)
    for bad in ({"stages": 3}, {"stages": {"allowed": "prod"}},
                {"stages": {"allowed": ["prod"], "order": ["dev", "prod"]}},
                {"stages": {"order": ["Bad Stage"]}}):
        with pytest.raises(ConfigError):
            registry.stage_policy(bad)


def test_tag_refusals(repo: Repo) -> None:
    refused(repo.model("tag", "clf", "v1.0.0", check=False), "unknown model 'clf'")
    repo.write(ART, random_bytes(100, 1))
    repo.model("add", ART)
    # added but not committed: HEAD has no model file for it
    refused(repo.model("tag", "clf", "v1.0.0", check=False), "has no model file for clf",
            "commit it first")
    repo.commit("m1")
    for bad in ("v1.2", "1.2.3.4", "v01.2.3"):
        refused(repo.model("tag", "clf", bad, check=False), "invalid version")
    refused(repo.model("tag", "Bad_Name!", "v1.0.0", check=False), "invalid model name")
    refused(repo.model("tag", "clf", check=False), "give a version")
    # artifact modified but not added
    repo.write(ART, random_bytes(100, 2))
    refused(repo.model("tag", "clf", "v1.0.0", check=False), "modified but not added",
            f"git model add {ART}")
    repo.model("checkout", "clf", "--force")
    repo.model("tag", "clf", "v1.0.0")
    refused(repo.model("tag", "clf", "v1.0.0", check=False), "already exists")
    refused(repo.model("tag", "clf", "1.0.0+build5", check=False), "already exists")
    commit_model(repo, 3)
    repo.model("tag", "clf", "v2.0.0")
    commit_model(repo, 4)
    # same major line, lower than the greatest there: refused without --force
    refused(repo.model("tag", "clf", "v2.0.0-rc.1", check=False), "not greater than v2.0.0",
            "--force")
    # a backport on an older major line is fine
    repo.model("tag", "clf", "v1.4.1")
    # objects not in the cache
    commit_model(repo, 7)
    oid = json.loads(repo.model("show", "clf", "--json").stdout)["files"][0]["oid"]
    obj = repo.root / ".git/model/objects" / oid[7:9] / oid[9:]
    obj.chmod(0o644)
    obj.unlink()
    refused(repo.model("tag", "clf", "v3.1.0", check=False), "not in the cache")
    assert "clf@v3.1.0" not in tags(repo)


def test_a_commit_holds_one_version_except_a_prerelease_and_its_release(repo: Repo) -> None:
    commit_model(repo, 1)
    repo.model("tag", "v1.0.0-rc.1")
    repo.model("tag", "v1.0.0")
    refused(repo.model("tag", "v1.1.0", check=False), "already clf v1.0.0")
    repo.model("tag", "v1.1.0", "--force")


def test_list_warns_about_hand_made_and_lightweight_tags_never_crashes(repo: Repo) -> None:
    commit_model(repo, 1)
    repo.model("tag", "v1.0.0")
    repo.git("tag", "clf@v1.1.0")  # lightweight, in the grammar
    repo.git("tag", "-a", "clf@1.2", "-m", "typo")  # near-miss of the grammar
    repo.git("tag", "-a", "clf#prod", "-m", "by hand, no trailers")  # gto --simple form
    repo.git("tag", "-a", "release-3", "-m", "the code's own tag")  # not ours: no warning
    repo.git("tag", "-a", "other#prod#1", "-m", "no version at this commit")
    out = repo.model("list")
    assert "lightweight" in out.stderr and "clf@v1.1.0" in out.stderr
    assert "clf@1.2 does not follow" in out.stderr
    assert "release-3" not in out.stderr
    assert "no version of other is registered" in out.stderr
    data = json.loads(repo.model("list", "--json").stdout)
    clf = next(m for m in data["models"] if m["name"] == "clf")
    assert clf["latest"] == "v1.0.0" and clf["stages"] == {"prod": "v1.0.0"}
    assert len(data["warnings"]) == 3


def test_spec_that_matches_nothing_says_what_exists(repo: Repo) -> None:
    commit_model(repo, 1)
    repo.model("tag", "v1.0.0")
    refused(repo.model("show", "clf@^2", check=False), "no version of clf matches ^2",
            "versions: v1.0.0")
    refused(repo.model("show", "clf#prod", check=False), "no version of clf is in stage prod")
    refused(repo.model("show", "nope@v1.0.0", check=False), "unknown model 'nope' (models: clf)",
            "`git model add PATH --name nope`")
    refused(repo.model("show", "clf@>=1", check=False), "invalid version spec")


def test_unknown_model_names_what_exists_and_that_add_comes_first(repo: Repo) -> None:
    """`assign`/`history` of a name nothing knows once advised `git model tag NAME v0.1.0`, which
    then failed with "unknown model": now they list the models and say a new one starts with add;
    a model that has a model file but no version yet is told to tag (issue 7)."""
    for args in (("assign", "nosuch", "v1.0.0", "prod"), ("history", "nosuch")):
        err = refused(repo.model(*args, check=False), "unknown model 'nosuch' (no models yet)",
                      "`git model add PATH --name nosuch`")
        assert "git model tag" not in err and len(err.strip().splitlines()) == 1
    commit_model(repo, 1)
    repo.model("tag", "v1.0.0")
    repo.write("models/bert.bin", random_bytes(500, 2))
    repo.model("add", "models/bert.bin")  # a model file, no version yet
    for args in (("assign", "nosuch", "v1.0.0", "prod"), ("history", "nosuch"),
                 ("deprecate", "nosuch")):
        refused(repo.model(*args, check=False), "unknown model 'nosuch' (models: bert, clf)",
                "`git model add PATH --name nosuch`")
    refused(repo.model("tag", "nosuch", "v0.1.0", check=False),
            "unknown model 'nosuch' (models at HEAD: clf)", "`git model add PATH --name nosuch`")
    err = refused(repo.model("history", "bert", check=False),
                  "model 'bert' has no versions yet", "`git model tag bert v0.1.0`")
    assert "unknown" not in err
    repo.commit("bert")
    repo.model("tag", "bert", "v0.1.0")  # the advice works
    assert "registered v0.1.0" in repo.model("history", "bert").stdout


def test_tags_of_one_model_are_strictly_ordered_in_time(repo: Repo) -> None:
    commit_model(repo, 1)
    for args in (("tag", "v1.0.0"), ("assign", "clf", "v1.0.0", "prod"),
                 ("unassign", "clf", "prod"), ("assign", "clf", "v1.0.0", "prod")):
        repo.model(*args)
    stamps = repo.git("for-each-ref", "--sort=taggerdate",
                      "--format=%(taggerdate:unix)", "refs/tags").stdout.split()
    assert len(set(stamps)) == 4
    assert catalog.show("clf#prod", repo.root).version == "v1.0.0"


def test_parse_refs_orders_ties_by_tag_number() -> None:
    commit = "a" * 40
    rows = []
    for tag in ("m@v1.0.0", "m#prod#1", "m#prod!#2", "m#prod#3"):
        rows.append("\x1f".join([tag, "tag", "f" * 40, "commit", commit, "T", "<t@e>", "100",
                                 "subject", "", ""]) + "\0\n")
    reg = registry.parse_refs("".join(reversed(rows)))
    assert reg.models["m"].stages["prod"].version == "v1.0.0"
    reg = registry.parse_refs("".join(rows[:3]))
    assert reg.models["m"].stages == {}


def test_read_uses_one_git_process(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    commit_model(repo, 1)
    repo.model("tag", "v1.0.0")
    calls: list[list[str]] = []
    real = subprocess.run

    def spy(args: list[str], *a: object, **kw: object) -> object:
        calls.append(list(args))
        return real(args, *a, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "run", spy)
    registry.read(repo.root)
    assert [c[1] for c in calls] == ["for-each-ref"]


def test_errors_are_typed() -> None:
    assert issubclass(VersionError, GitmodelError)


def test_deprecated_model_is_reactivated_by_a_new_version(repo: Repo, tmp_path: Path) -> None:
    commit_model(repo, 1)
    repo.model("tag", "v1.0.0")
    repo.model("deprecate", "clf")
    commit_model(repo, 2)
    repo.model("tag", "v1.1.0")
    assert json.loads(repo.model("list", "--json").stdout)["models"][0]["deprecated"] is False


def test_fast_tag_reading_agrees_with_the_grammar() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from gitmodel import semver as versions

    names = ["m@v1.2.3", "m@v01.2.3", "a//b@v1.0.0", "a/b@v1.0.0", "a/@v1.0.0", "A@v1.0.0",
             "m@v1.2.3-rc.1", "m@v1.2.3+b", "m@v1.2.3!", "m#prod#1", "d=m@v1.0.0",
             "m@v99999999999999999999.0.0", "-m@v1.0.0", "m@v1.0.0#3", "m_1-x@v0.0.0"]
    for name in names:
        assert registry.parse_tag_fast(name, {}) == versions.parse_tag(name), name

    @given(st.from_regex(r"[a-z0-9_/=-]{1,6}@v[0-9]{1,3}\.[0-9]{1,2}\.[0-9]{1,2}[!#a-z0-9.+-]{0,3}",
                         fullmatch=True))
    def agree(name: str) -> None:
        assert registry.parse_tag_fast(name, {}) == versions.parse_tag(name)

    agree()


def test_tag_rev_registers_an_older_commit(repo: Repo) -> None:
    first = commit_model(repo, 1)
    second = commit_model(repo, 2)
    repo.model("tag", "clf", "v1.0.0", "--rev", "HEAD~1")
    assert repo.git("rev-parse", "clf@v1.0.0^{commit}").stdout.strip() == first
    shown = json.loads(repo.model("show", "clf@v1.0.0", "--json").stdout)
    assert shown["commit"] == first
    # the files of that commit's model file, not HEAD's
    old_oid = repo.git("show", f"{first}:{MODEL_FILE}").stdout
    assert shown["files"][0]["oid"] in old_oid
    assert shown["files"][0]["oid"] not in repo.git("show", f"{second}:{MODEL_FILE}").stdout
    repo.model("tag", "clf", "--bump", "minor", "--rev", second[:10])
    assert repo.git("rev-parse", "clf@v1.1.0^{commit}").stdout.strip() == second
    refused(repo.model("tag", "clf", "v2.0.0", "--rev", "no-such-rev", check=False),
            "no-such-rev")
