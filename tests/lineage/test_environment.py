"""gitmodel.lineage.environment: which environment, and what its metadata files say, read from
real folders (fake site-packages trees, a real venv, real interpreters on PATH)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitmodel import modelfile
from gitmodel.lineage import environment as env_mod
from gitmodel.lineage.environment import (
    Target,
    accelerator_of,
    capture,
    cli_target,
    interpreter_target,
    load_listing,
    prefix_target,
    process_target,
    read_distributions,
    save_listing,
)
from gitmodel.modelfile import FileEntry, ModelFile

NO_DRIVER = Path("/nonexistent/nvidia/version")


def dist_info(site: Path, name: str, version: str, *, folder: str | None = None,
              metadata: bytes | None = None) -> Path:
    path = site / (folder or f"{name.replace('-', '_')}-{version}.dist-info")
    path.mkdir(parents=True, exist_ok=True)
    if metadata is None:
        metadata = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                    "Summary: x\n\n" + "description\n" * 2000).encode()
    (path / "METADATA").write_bytes(metadata)
    return path


def cap(target: Target | None) -> env_mod.Capture:
    return capture(target, driver_file=NO_DRIVER, rocm_file=NO_DRIVER)


def test_reads_dist_info_and_egg_info_and_lists_them_canonically(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    dist_info(site, "NumPy", "1.26.4")
    dist_info(site, "scikit_learn", "1.4.2")
    dist_info(site, "Some.Odd_Name", "0.1")
    egg = site / "legacy.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: legacy\nVersion: 2.0\n")
    (site / "flat-3.1-py3.11.egg-info").write_text("Name: flat\nVersion: 3.1\n\nbody\n")
    (site / "numpy").mkdir()  # the package itself: not metadata
    result = cap(Target("venv", (site,), "3.11.4", "cpython"))
    env = result.environment
    assert result.listing == (b"flat==3.1\nlegacy==2.0\nnumpy==1.26.4\nscikit-learn==1.4.2\n"
                              b"some-odd-name==0.1\n")
    assert env.listing == "sha256:" + hashlib.sha256(result.listing).hexdigest()
    assert env.distributions == 5
    assert env.packages == {"numpy": "1.26.4", "scikit-learn": "1.4.2"}
    assert (env.python, env.implementation, env.kind) == ("3.11.4", "cpython", "venv")
    assert env.os == sys.platform and env.machine == os.uname().machine
    assert env.skipped == ()


def test_broken_metadata_is_skipped_and_said_and_the_rest_recorded(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist_info(site, "numpy", "1.26.4")
    (site / "gone-1.0.dist-info").mkdir()  # no METADATA
    dist_info(site, "x", "1", folder="noversion-1.dist-info", metadata=b"Name: noversion\n\n")
    dist_info(site, "x", "1", folder="binary-1.dist-info", metadata=os.urandom(3000))
    dist_info(site, "x", "1", folder="evil-1.dist-info",
              metadata=b"Name: ev\x1b[2Jil\nVersion: 1\x07\n\n")
    dist_info(site, "x", "1", folder="spaced-1.dist-info", metadata=b"Name: a\nVersion: 1 beta\n")
    missing = tmp_path / "not-there"
    result = cap(Target("venv", (site, missing)))
    env = result.environment
    assert result.distributions == {"numpy": "1.26.4"}
    text = "\n".join(env.skipped)
    for label in ("gone-1.0.dist-info: no readable METADATA",
                  "noversion-1.dist-info: its metadata has no Version",
                  "binary-1.dist-info: its metadata has no Name",
                  "evil-1.dist-info: a name or version outside the model-file rules",
                  "spaced-1.dist-info", f"{missing}: cannot list it"):
        assert label in text
    # what was recorded is a valid model file, whatever the environment held
    model = ModelFile(name="m", artifact="m.bin", files=(FileEntry("m.bin", "sha256:" + "a" * 64,
                                                                    1),), environment=env)
    assert modelfile.loads(modelfile.dumps(model).encode(), "m.model.toml") == model


def test_the_first_site_folder_wins_a_name_installed_twice(tmp_path: Path) -> None:
    user, system = tmp_path / "user", tmp_path / "system"
    dist_info(user, "numpy", "2.0.0")
    dist_info(system, "NumPy", "1.26.4")
    assert read_distributions([user, system]) == ({"numpy": "2.0.0"}, [])


def test_skipped_is_bounded_and_stays_printable(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for i in range(50):
        (site / f"broken{i}-\u202e1.dist-info").mkdir(parents=True)
    env = cap(Target("venv", (site,))).environment
    assert len(env.skipped) == modelfile.MAX_SKIPPED
    assert env.skipped[-1] == "and 19 more"
    assert all(modelfile.is_text(s) and len(s) <= 200 for s in env.skipped)
    assert "\u202e" not in "".join(env.skipped)


def test_no_environment_records_the_machine_and_says_so() -> None:
    env = cap(None).environment
    assert env.os == sys.platform and env.python == "" and env.distributions == 0
    assert env.listing == "" and "no Python environment" in env.skipped[0]


# -- accelerators -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("installed", "expected"), [
    ({"torch": "2.3.0+cu121"}, {"cuda": "12.1"}),
    ({"torch": "2.1.0+cu118"}, {"cuda": "11.8"}),
    ({"torch": "2.3.0+rocm5.7"}, {"rocm": "5.7"}),
    ({"torch": "2.3.0+cpu"}, {}),
    ({"torch": "2.3.0", "nvidia-cuda-runtime-cu12": "12.1.105", "nvidia-cudnn-cu12": "8.9.2.26",
      "nvidia-nccl-cu12": "2.20.5", "nvidia-cublas-cu12": "12.1.3.1"},
     {"cuda": "12.1.105", "cudnn": "8.9.2.26", "nccl": "2.20.5"}),
    ({"numpy": "1.26.4"}, {}),
])
def test_accelerator_from_wheel_metadata(installed: dict[str, str],
                                         expected: dict[str, str]) -> None:
    assert accelerator_of(installed, NO_DRIVER, NO_DRIVER) == expected


@pytest.mark.parametrize("line", [
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023",
    "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build",
])
def test_nvidia_driver_from_its_proc_file(tmp_path: Path, line: str) -> None:
    driver = tmp_path / "version"
    driver.write_text(line + "\nGCC version:  gcc version 12.2.0\n")
    rocm = tmp_path / "rocm"
    rocm.write_text("6.0.2-115\n")
    assert accelerator_of({}, driver, rocm) == {"nvidia-driver": "535.104.05", "rocm": "6.0.2"}


# -- which environment --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real venv (no pip: fast), with two distributions' metadata in its site-packages."""
    path = tmp_path_factory.mktemp("env") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next((path / "lib").glob("python*/site-packages"))
    dist_info(site, "torch", "2.3.0+cu121")
    dist_info(site, "trainer-lib", "0.3")
    return path


def test_virtual_env_is_read_from_its_layout(venv: Path) -> None:
    target = cli_target({"VIRTUAL_ENV": str(venv), "CONDA_PREFIX": "/elsewhere", "PATH": ""})
    assert target is not None and target.kind == "venv"
    env = cap(target).environment
    assert env.python == ".".join(map(str, sys.version_info[:3]))
    assert env.implementation == "cpython"
    assert env.packages == {"torch": "2.3.0+cu121"} and env.distributions == 2
    assert env.accelerator == {"cuda": "12.1"}


def test_conda_prefix_is_read_from_its_layout(tmp_path: Path) -> None:
    prefix = tmp_path / "conda" / "envs" / "train"
    dist_info(prefix / "lib" / "python3.10" / "site-packages", "numpy", "1.24.0")
    (prefix / "conda-meta").mkdir()
    (prefix / "conda-meta" / "python-3.10.13-h955ad1f_0.json").write_text("{}")
    target = cli_target({"CONDA_PREFIX": str(prefix), "PATH": ""})
    assert target is not None
    env = cap(target).environment
    assert (env.kind, env.python, env.implementation) == ("conda", "3.10.13", "cpython")
    assert env.packages == {"numpy": "1.24.0"}


def test_conda_python_version_from_conda_meta_when_the_layout_has_none(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "conda-meta" / "python-3.12.1-h0_0.json").write_text("{}")
    target = prefix_target(prefix, "conda")
    assert target.python == "3.12.1" and target.site_dirs == ()
    assert "no lib/pythonX.Y/site-packages" in target.skipped[0]


def test_python3_on_path_in_a_venv_is_found_without_running_it(venv: Path, tmp_path: Path) -> None:
    target = cli_target({"PATH": f"{tmp_path}:{venv / 'bin'}"})
    assert target is not None and target.kind == "path"
    assert target.site_dirs == tuple((venv / "lib").glob("python*/site-packages"))
    assert cap(target).environment.packages == {"torch": "2.3.0+cu121"}


def test_a_plain_installation_on_path_is_found_from_its_lib_folder(tmp_path: Path) -> None:
    prefix = tmp_path / "usr"
    (prefix / "bin").mkdir(parents=True)
    real = prefix / "bin" / "python3.12"
    real.write_text("not run\n")  # never started: the layout says where its site folder is
    (prefix / "bin" / "python3").symlink_to("python3.12")
    dist_info(prefix / "lib" / "python3.12" / "site-packages", "scipy", "1.13.0")
    dist_info(prefix / "lib" / "python3" / "dist-packages", "pandas", "2.2.0")
    (prefix / "include" / "python3.12").mkdir(parents=True)
    (prefix / "include" / "python3.12" / "patchlevel.h").write_text(
        '#define PY_VERSION              "3.12.4"\n')
    target = interpreter_target(prefix / "bin" / "python3")
    env = cap(target).environment
    assert (env.kind, env.python) == ("path", "3.12.4")
    assert env.packages == {"pandas": "2.2.0", "scipy": "1.13.0"}


def test_an_interpreter_without_a_readable_layout_is_asked_once(tmp_path: Path,
                                                                venv: Path) -> None:
    shim = tmp_path / "shims" / "python3"  # as pyenv's shims: a script, no lib/ beside it
    shim.parent.mkdir()
    counter = tmp_path / "runs"
    shim.write_text(f"#!/bin/sh\necho run >> {counter}\nexec {venv}/bin/python \"$@\"\n")
    shim.chmod(0o755)
    target = cli_target({"PATH": str(shim.parent)})
    assert target is not None and counter.read_text() == "run\n"
    assert cap(target).environment.packages == {"torch": "2.3.0+cu121"}


def test_an_interpreter_that_hangs_is_given_up_on(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    shim = tmp_path / "python3"
    shim.write_text("#!/bin/sh\nsleep 30\n")
    shim.chmod(0o755)
    monkeypatch.setattr(env_mod, "_RUN_TIMEOUT", 0.5)
    started = time.monotonic()
    target = cli_target({"PATH": str(tmp_path)})
    assert time.monotonic() - started < 10
    assert target is not None and target.site_dirs == ()
    assert "did not answer within 0.5 s" in cap(target).environment.skipped[0]


def test_no_environment_on_the_command_line_is_none(tmp_path: Path) -> None:
    assert cli_target({"PATH": str(tmp_path)}) is None


def test_the_cli_never_records_gitmodels_own_environment(venv: Path) -> None:
    # gitmodel runs from this test's interpreter (an isolated install, as far as the user's
    # training is concerned): with a venv active, that venv is read and nothing of ours
    target = cli_target({"VIRTUAL_ENV": str(venv), "PATH": os.path.dirname(sys.executable)})
    assert target is not None
    own = {Path(p).resolve() for p in sys.path if p}
    assert not {d.resolve() for d in target.site_dirs} & own
    assert "hypothesis" not in cap(target).distributions


def test_the_process_target_is_this_interpreter() -> None:
    target = process_target()
    env = cap(target).environment
    assert env.kind == "process" and env.python == ".".join(map(str, sys.version_info[:3]))
    assert env.implementation == sys.implementation.name
    assert env.packages["gitmodel"]
    assert "pytest" in cap(target).distributions


# -- the listing in the cache -------------------------------------------------------------------------

def test_listing_is_kept_once_under_its_digest_and_read_back(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist_info(site, "numpy", "1.26.4")
    dist_info(site, "torch", "2.3.0")
    result = cap(Target("venv", (site,)))
    model_dir = tmp_path / "model"
    path = save_listing(model_dir, result)
    assert path is not None and path.read_bytes() == result.listing
    assert path.name == result.environment.listing.removeprefix("sha256:")
    assert save_listing(model_dir, result) == path
    assert load_listing(model_dir, result.environment.listing) == [("numpy", "1.26.4"),
                                                                   ("torch", "2.3.0")]
    path.chmod(0o644)
    path.write_bytes(b"numpy==6.6.6\n")  # not what the digest names: not shown as if it were
    assert load_listing(model_dir, result.environment.listing) is None
    assert load_listing(model_dir, "sha256:" + "0" * 64) is None
    assert load_listing(model_dir, "../../etc/passwd") is None


def test_an_empty_environment_keeps_no_listing(tmp_path: Path) -> None:
    assert save_listing(tmp_path, cap(Target("venv", ()))) is None


def test_an_unwritable_cache_is_not_an_error(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist_info(site, "numpy", "1")
    blocker = tmp_path / "model"
    blocker.write_text("a file where the cache folder would be")
    assert save_listing(blocker, cap(Target("venv", (site,)))) is None


# -- property: whatever a site folder holds, capture records a valid model file -------------------

folder_names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
                       min_size=1, max_size=12).map(lambda s: s + ".dist-info")
metadata = st.binary(max_size=300) | st.builds(
    lambda n, v, rest: b"Name: " + n + b"\nVersion: " + v + b"\n" + rest,
    st.binary(max_size=20), st.binary(max_size=20), st.binary(max_size=50))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.dictionaries(folder_names, metadata, max_size=6))
def test_any_site_folder_captures_to_a_valid_model_file(tmp_path_factory: pytest.TempPathFactory,
                                                        tree: dict[str, bytes]) -> None:
    site = tmp_path_factory.mktemp("site")
    for name, data in tree.items():
        try:
            (site / name).mkdir()
        except OSError:  # a name this file system refuses (too long in bytes)
            continue
        (site / name / "METADATA").write_bytes(data)
    result = cap(Target("venv", (site,)))
    model = ModelFile(name="m", artifact="m.bin",
                      files=(FileEntry("m.bin", "sha256:" + "a" * 64, 1),),
                      environment=result.environment)
    assert modelfile.loads(modelfile.dumps(model).encode(), "m.model.toml") == model
    assert result.environment.distributions == len(result.listing.splitlines())


def test_the_hook_path_does_not_import_lineage() -> None:
    code = ("import sys, gitmodel.hook, gitmodel.filter, gitmodel.api; "
            "print(sorted(m for m in sys.modules if m.startswith('gitmodel.lineage')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
