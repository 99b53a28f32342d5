"""Capture the Python environment a model was made in (docs/model-file.md, "Environment").

Read from the installed distributions' metadata files (``*.dist-info/METADATA``,
``*.egg-info/PKG-INFO``) of the target environment's site folders: never by starting pip, never by
importing a framework, and for a command-line ``add`` not by starting the environment's Python
either when its layout says where its site folders are. A listing holds one ``name==version``
line per distribution; its sha256 goes into the model file and the listing itself into the cache.

Which environment (issue 12): for the Python API, the calling process (:func:`process_target`);
for the CLI, ``VIRTUAL_ENV``, else ``CONDA_PREFIX``, else the ``python3`` on PATH, else none
(:func:`cli_target`) -- never gitmodel's own, which may be an isolated tool install.

Nothing here raises on a broken environment: what cannot be read is named in ``skipped`` and the
rest is recorded, so ``add`` never fails because of it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitmodel import modelfile
from gitmodel.modelfile import OID_RE, Environment

# docs/model-file.md: the installed packages the model file names (the rest are in the listing)
ML_PACKAGES = frozenset({
    "numpy", "scipy", "pandas", "polars", "pyarrow", "scikit-learn", "xgboost", "lightgbm",
    "catboost", "torch", "torchvision", "torchaudio", "lightning", "pytorch-lightning", "triton",
    "tensorflow", "tensorflow-cpu", "keras", "jax", "jaxlib", "flax", "optax", "transformers",
    "tokenizers", "datasets", "accelerate", "peft", "diffusers", "sentence-transformers",
    "safetensors", "onnx", "onnxruntime", "onnxruntime-gpu", "timm", "deepspeed", "vllm",
    "gitmodel",
})
NVIDIA_DRIVER_FILE = Path("/proc/driver/nvidia/version")
ROCM_VERSION_FILE = Path("/opt/rocm/.info/version")
# a METADATA header is a few hundred bytes (Name and Version come first); the description after
# it can be 100 KiB, so only the start is read
_HEAD_BYTES = 8192
_MAX_HEAD_BYTES = 256 << 10
_RUN_TIMEOUT = 5.0
_NORMALIZE = re.compile(r"[-_.]+")
_VERSION_DIR = re.compile(r"^(python|pypy)(\d+)\.(\d+)t?$")
_CUDA_LOCAL = re.compile(r"^cu(\d+)(\d)$")
_ROCM_LOCAL = re.compile(r"^rocm(\d+(?:\.\d+)*)$")
_DRIVER = re.compile(r"Module.*?\s(\d+\.\d+(?:\.\d+)*)\s")


@dataclass(frozen=True)
class Target:
    """Where an environment's distributions are installed, and what is known of it without
    running it."""

    kind: str  # "process", "venv", "conda" or "path" (docs/model-file.md)
    site_dirs: tuple[Path, ...]  # searched in this order; the first of two same names wins
    python: str = ""
    implementation: str = ""
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capture:
    """What was read: the model file's ``[environment]`` and the full package listing whose
    sha256 is ``environment.listing`` (empty when no distribution was found)."""

    environment: Environment
    listing: bytes = b""
    distributions: dict[str, str] = field(default_factory=dict)


def normalize(name: str) -> str:
    """PEP 503: lowercase, every run of ``-``, ``_`` and ``.`` one ``-``."""
    return _NORMALIZE.sub("-", name).lower()


# -- which environment --------------------------------------------------------------------------

def process_target() -> Target:
    """The calling process's environment: its ``sys.path`` folders, in import order."""
    seen: set[str] = set()
    dirs = []
    for entry in sys.path:
        path = os.path.abspath(entry or os.curdir)
        if path not in seen and os.path.isdir(path):
            seen.add(path)
            dirs.append(Path(path))
    return Target("process", tuple(dirs), ".".join(map(str, sys.version_info[:3])),
                  sys.implementation.name)


def cli_target(environ: Mapping[str, str] | None = None) -> Target | None:
    """The environment a command-line ``add`` records: the active virtual environment, else the
    active conda environment, else the ``python3`` on PATH, else None."""
    env = os.environ if environ is None else environ
    if env.get("VIRTUAL_ENV"):
        return prefix_target(Path(env["VIRTUAL_ENV"]), "venv")
    if env.get("CONDA_PREFIX"):
        return prefix_target(Path(env["CONDA_PREFIX"]), "conda")
    found = shutil.which("python3", path=env.get("PATH", os.defpath))
    if found is None:
        return None
    return interpreter_target(Path(found))


def _read_cfg(prefix: Path) -> dict[str, str]:
    try:
        text = (prefix / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def _lib_dirs(prefix: Path) -> list[tuple[Path, str, str]]:
    """(site folder, version X.Y, implementation) of each ``lib/pythonX.Y`` under ``prefix``."""
    found = []
    try:
        libs = sorted(os.listdir(prefix / "lib"))
    except OSError:
        libs = []
    for name in libs:
        match = _VERSION_DIR.match(name)
        if match:
            implementation = "cpython" if match.group(1) == "python" else "pypy"
            found.append((prefix / "lib" / name / "site-packages",
                          f"{match.group(2)}.{match.group(3)}", implementation))
    windows = prefix / "Lib" / "site-packages"
    if not found and windows.is_dir():
        found.append((windows, "", "cpython"))
    return [f for f in found if f[0].is_dir()]


def prefix_target(prefix: Path, kind: str) -> Target:
    """An environment installed at ``prefix`` (a venv or a conda environment), read from its
    layout: ``pyvenv.cfg`` and ``lib/pythonX.Y/site-packages``."""
    cfg = _read_cfg(prefix)
    libs = _lib_dirs(prefix)
    skipped = []
    if not libs:
        skipped.append(f"no lib/pythonX.Y/site-packages under {prefix}")
    elif len(libs) > 1:
        skipped.append(f"{prefix} holds {len(libs)} lib/python* folders; read them all")
    version = cfg.get("version_info") or cfg.get("version") or ""
    version = ".".join(version.split(".")[:3])
    if not version and kind == "conda":
        version = _conda_python(prefix)  # X.Y.Z, where the lib folder says X.Y
    if not version and libs:
        version = libs[0][1]
    implementation = (cfg.get("implementation") or (libs[0][2] if libs else "")).lower()
    if cfg.get("include-system-site-packages", "").lower() == "true":
        skipped.append("the system site-packages this venv also sees")
    return Target(kind, tuple(lib[0] for lib in libs), version, implementation, tuple(skipped))


def _conda_python(prefix: Path) -> str:
    try:
        names = os.listdir(prefix / "conda-meta")
    except OSError:
        return ""
    for name in names:  # python-3.11.4-h955ad1f_0.json
        match = re.match(r"^python-(\d+\.\d+\.\d+)-.*\.json$", name)
        if match:
            return match.group(1)
    return ""


def interpreter_target(executable: Path) -> Target:
    """The environment of the interpreter at ``executable`` (the ``python3`` on PATH): a venv
    when a ``pyvenv.cfg`` sits beside its ``bin``, else the installation it resolves to. Only
    when neither layout names a site folder (a pyenv shim, a wrapper script) is the interpreter
    started, once, with a timeout."""
    near = executable.parent.parent
    if (near / "pyvenv.cfg").is_file():
        target = prefix_target(near, "path")
        if target.site_dirs:
            return target
    real = executable.resolve()
    prefix = real.parent.parent
    match = _VERSION_DIR.match(real.name)
    if match:
        xy = f"{match.group(2)}.{match.group(3)}"
        folder = f"{match.group(1)}{xy}"
        candidates = [prefix / "local" / "lib" / folder / "dist-packages",
                      prefix / "lib" / folder / "site-packages",
                      prefix / "lib" / folder / "dist-packages",
                      prefix / "lib" / "python3" / "dist-packages"]
        user = Path.home() / ".local" / "lib" / folder / "site-packages"
        dirs = [d for d in [user, *candidates] if d.is_dir()]
        if dirs:
            implementation = "cpython" if match.group(1) == "python" else "pypy"
            return Target("path", tuple(dirs), _version_of(prefix, xy), implementation)
    return _ask_interpreter(executable)


def _version_of(prefix: Path, xy: str) -> str:
    """X.Y.Z from the installation's ``include/pythonX.Y/patchlevel.h`` when present, else X.Y."""
    try:
        with open(prefix / "include" / f"python{xy}" / "patchlevel.h", encoding="utf-8",
                  errors="replace") as header:
            match = re.search(r'#define\s+PY_VERSION\s+"(\d+\.\d+\.\d+)', header.read(8192))
    except OSError:
        return xy
    return match.group(1) if match else xy


_ASK = ("import json, sys; print(json.dumps(['%d.%d.%d' % sys.version_info[:3], "
        "sys.implementation.name, sys.path]))")


def _ask_interpreter(executable: Path) -> Target:
    try:
        proc = subprocess.run([str(executable), "-c", _ASK], capture_output=True, text=True,
                              timeout=_RUN_TIMEOUT, stdin=subprocess.DEVNULL)
        import json

        version, implementation, path = json.loads(proc.stdout)
        dirs = tuple(Path(p) for p in path if isinstance(p, str) and p and os.path.isdir(p))
        return Target("path", dirs, str(version), str(implementation))
    except subprocess.TimeoutExpired:
        why = f"{executable} did not answer within {_RUN_TIMEOUT:g} s"
    except (OSError, ValueError, TypeError) as exc:
        why = f"{executable} could not be asked for its site folders ({type(exc).__name__})"
    return Target("path", (), skipped=(why,))


# -- reading metadata -----------------------------------------------------------------------------

def _header_fields(path: str) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` from the header of a METADATA/PKG-INFO file (email format: the
    header ends at the first blank line)."""
    with open(path, "rb") as stream:
        data = stream.read(_HEAD_BYTES)
        if b"\n\n" not in data and b"\r\n\r\n" not in data and len(data) == _HEAD_BYTES:
            data += stream.read(_MAX_HEAD_BYTES)
    name = version = None
    for raw in data.split(b"\n"):
        line = raw.rstrip(b"\r")
        if not line:
            break
        if name is None and line[:5].lower() == b"name:":
            name = line[5:].strip().decode("utf-8", "replace")
        elif version is None and line[:8].lower() == b"version:":
            version = line[8:].strip().decode("utf-8", "replace")
        if name is not None and version is not None:
            break
    return name, version


def _note(text: str) -> str:
    """``text`` made fit for ``environment.skipped``: what a terminal would obey replaced by
    ``?``, at most 200 characters."""
    clean = "".join(c if modelfile.is_text(c) else "?" for c in text)
    return clean if len(clean) <= modelfile.MAX_SKIPPED_CHARS else (
        clean[:modelfile.MAX_SKIPPED_CHARS - 1] + "…")


def read_distributions(site_dirs: Iterable[Path]) -> tuple[dict[str, str], list[str]]:
    """name → version of every distribution in ``site_dirs`` (the first of a name wins, as for
    imports), and what was skipped."""
    found: dict[str, str] = {}
    skipped: list[str] = []
    for site in site_dirs:
        try:
            entries = list(os.scandir(site))
        except OSError as exc:
            skipped.append(f"{site}: cannot list it ({exc.strerror or type(exc).__name__})")
            continue
        for entry in entries:
            label = entry.name
            if label.endswith(".dist-info"):
                meta = os.path.join(entry.path, "METADATA")
            elif label.endswith(".egg-info"):
                meta = os.path.join(entry.path, "PKG-INFO") if entry.is_dir() else entry.path
            else:
                continue
            try:
                name, version = _header_fields(meta)
            except OSError:
                skipped.append(f"{label}: no readable {os.path.basename(meta)}")
                continue
            if not name or not version:
                skipped.append(f"{label}: its metadata has no {'Name' if not name else 'Version'}")
                continue
            key = normalize(name)
            if not modelfile.PACKAGE_NAME_RE.fullmatch(key) or not modelfile.TOKEN_RE.fullmatch(
                    version):
                skipped.append(f"{label}: a name or version outside the model-file rules")
                continue
            found.setdefault(key, version)
    return found, skipped


def listing_of(distributions: Mapping[str, str]) -> bytes:
    """The full package list (docs/model-file.md): ``name==version`` lines sorted by name."""
    return "".join(f"{name}=={distributions[name]}\n" for name in sorted(distributions)).encode()


def accelerator_of(distributions: Mapping[str, str], driver_file: Path = NVIDIA_DRIVER_FILE,
                   rocm_file: Path = ROCM_VERSION_FILE) -> dict[str, str]:
    """The CUDA/ROCm stack as installed wheels and driver files show it, importing nothing."""
    found: dict[str, str] = {}
    torch = distributions.get("torch", "")
    local = torch.partition("+")[2]
    if match := _CUDA_LOCAL.match(local):
        found["cuda"] = f"{match.group(1)}.{match.group(2)}"
    elif match := _ROCM_LOCAL.match(local):
        found["rocm"] = match.group(1)
    for name, version in distributions.items():
        if not name.startswith("nvidia-"):
            continue
        if re.match(r"^nvidia-cuda-runtime-cu\d+$", name):
            found["cuda"] = version
        elif re.match(r"^nvidia-cudnn-cu\d+$", name):
            found["cudnn"] = version
        elif re.match(r"^nvidia-nccl-cu\d+$", name):
            found["nccl"] = version
    for key, path, pattern in (("nvidia-driver", driver_file, _DRIVER),
                               ("rocm", rocm_file, re.compile(r"^(\d+\.\d+(?:\.\d+)*)"))):
        if key in found:
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as stream:
                text = stream.read(4096)
        except OSError:
            continue
        match = pattern.search(text)
        if match and modelfile.TOKEN_RE.fullmatch(match.group(1)):
            found[key] = match.group(1)
    return dict(sorted(found.items()))


def _system() -> tuple[str, str]:
    """(os, machine) of this machine, as tokens: ``linux``/``x86_64``."""
    name = {"win32": "windows", "cygwin": "cygwin"}.get(sys.platform, sys.platform)
    name = re.sub(r"\d+$", "", name) or name  # freebsd14 -> freebsd
    try:
        machine = os.uname().machine
    except AttributeError:  # Windows
        import platform

        machine = platform.machine()
    return name, machine


def capture(target: Target | None, *, driver_file: Path = NVIDIA_DRIVER_FILE,
            rocm_file: Path = ROCM_VERSION_FILE) -> Capture:
    """Read ``target``'s environment (None: record the machine, and that no environment was
    found). Never raises for a broken environment: what it skipped is in the result."""
    os_name, machine = _system()
    skipped: list[str] = []

    def token(value: str, what: str) -> str:
        if value == "" or modelfile.TOKEN_RE.fullmatch(value):
            return value
        skipped.append(f"the {what}, which is outside the model-file rules")
        return ""

    if target is None:
        environment = Environment(
            os=token(os_name, "OS name"), machine=token(machine, "machine"),
            skipped=("no Python environment: no VIRTUAL_ENV, CONDA_PREFIX or python3 on PATH",))
        return Capture(environment)
    skipped += target.skipped
    distributions, unread = read_distributions(target.site_dirs)
    skipped += unread
    listing = listing_of(distributions)
    if len(skipped) > modelfile.MAX_SKIPPED:
        more = len(skipped) - (modelfile.MAX_SKIPPED - 1)
        skipped = [*skipped[:modelfile.MAX_SKIPPED - 1], f"and {more} more"]
    environment = Environment(
        python=token(target.python, "Python version"),
        implementation=token(target.implementation, "Python implementation"),
        os=token(os_name, "OS name"), machine=token(machine, "machine"),
        kind=target.kind if target.kind in modelfile.ENVIRONMENT_KINDS else "",
        distributions=min(len(distributions), modelfile.MAX_DISTRIBUTIONS),
        listing="sha256:" + hashlib.sha256(listing).hexdigest() if distributions else "",
        skipped=tuple(_note(s) for s in skipped),
        accelerator=accelerator_of(distributions, driver_file, rocm_file),
        packages={k: v for k, v in sorted(distributions.items()) if k in ML_PACKAGES},
    )
    return Capture(environment, listing, distributions)


# -- the listing in the cache ---------------------------------------------------------------------
# Kept beside the object store under its sha256 (a later step pushes it beside the objects, so a
# clone can show another machine's list too): <git common dir>/model/lineage/environments/<hex>.

def _listing_path(model_dir: Path, oid: str) -> Path:
    return model_dir / "lineage" / "environments" / oid.removeprefix("sha256:")


def save_listing(model_dir: Path, result: Capture) -> Path | None:
    """Keep ``result``'s listing in the cache (once: it is named by its hash); None when there is
    none. A cache that cannot be written is not an error: the model file holds the digest."""
    oid = result.environment.listing
    if not oid:
        return None
    path = _listing_path(model_dir, oid)
    if path.exists():
        return path
    from gitmodel.fileio import write_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, result.listing)
    except OSError:
        return None
    return path


def load_listing(model_dir: Path, oid: str) -> list[tuple[str, str]] | None:
    """The (name, version) lines of the listing ``oid`` from the cache, or None when the cache
    does not hold it (it was recorded on another machine) or holds other bytes."""
    if not OID_RE.fullmatch(oid):
        return None
    try:
        data = _listing_path(model_dir, oid).read_bytes()
    except OSError:
        return None
    if "sha256:" + hashlib.sha256(data).hexdigest() != oid:
        return None
    lines = []
    for line in data.decode("utf-8", "replace").splitlines():
        name, sep, version = line.partition("==")
        if sep and modelfile.PACKAGE_NAME_RE.fullmatch(name) and modelfile.TOKEN_RE.fullmatch(
                version):
            lines.append((name, version))
    return lines
