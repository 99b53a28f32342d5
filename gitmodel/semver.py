"""Semantic versions, version specs and the GTO tag grammar (docs/tags.md).

A pure module: no git, no I/O. It parses and formats the strings that the registry reads from and
writes to git tags, so that iterative's ``gto`` and gitmodel read each other's registries.

- :class:`Version` is a Semantic Versioning 2.0.0 version; ``<``/``>`` follow semver precedence
  (build metadata ignored), ``==`` is exact.
- :func:`parse_range` turns ``1.2.3``, ``1.2``, ``^1``, ``~1.2``, ``latest``… into a
  :class:`VersionRange`; :func:`parse_spec` splits ``NAME@RANGE`` and ``NAME#STAGE``.
- :func:`parse_tag` reads a tag name into one of :class:`Register`, :class:`Deregister`,
  :class:`Assign`, :class:`Unassign`, :class:`Deprecate`; the ``format_*`` functions write them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TypeAlias

from gitmodel.errors import VersionError

__all__ = [
    "NAME_PATTERN",
    "Assign",
    "Deprecate",
    "Deregister",
    "ModelSpec",
    "Register",
    "TagEvent",
    "Unassign",
    "Version",
    "VersionRange",
    "check_name",
    "check_stage",
    "check_tag_ref",
    "format_assign",
    "format_deprecate",
    "format_deregister",
    "format_register",
    "format_tag",
    "format_unassign",
    "next_prerelease",
    "next_tag_number",
    "parse_range",
    "parse_spec",
    "parse_tag",
]

# --------------------------------------------------------------------------------------------
# Semantic Versioning 2.0.0
# --------------------------------------------------------------------------------------------

_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_IDENT = r"[0-9A-Za-z-]+"
_PRERELEASE = rf"{_PRE_IDENT}(?:\.{_PRE_IDENT})*"
_BUILD = rf"{_BUILD_IDENT}(?:\.{_BUILD_IDENT})*"
# Without capture groups, so it can be embedded in the tag grammar.
_SEMVER = rf"{_NUM}\.{_NUM}\.{_NUM}(?:-{_PRERELEASE})?(?:\+{_BUILD})?"

_VERSION_RE = re.compile(
    rf"v?(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRERELEASE}))?(?:\+(?P<build>{_BUILD}))?",
    re.ASCII,
)
_PRE_IDENT_RE = re.compile(_PRE_IDENT, re.ASCII)
_BUILD_IDENT_RE = re.compile(_BUILD_IDENT, re.ASCII)
_DIGITS_RE = re.compile(r"[0-9]+", re.ASCII)

_EXPECTED = (
    "expected MAJOR.MINOR.PATCH such as v1.2.3, optionally followed by -PRERELEASE and "
    "+BUILD (v1.2.3-rc.1+build.5): numbers without leading zeros, identifiers of "
    "[0-9A-Za-z-] separated by dots"
)

Identifier: TypeAlias = str | int
# One prerelease identifier in precedence order: numeric ones sort before alphanumeric ones.
_IdentKey: TypeAlias = tuple[int, int, str]
PrecedenceKey: TypeAlias = tuple[int, int, int, int, tuple[_IdentKey, ...]]


def _to_int(digits: str, text: str) -> int:
    try:
        return int(digits)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        raise VersionError(f"invalid version {text!r}: number too large") from None


def _prerelease_ident(part: str, text: str) -> Identifier:
    return _to_int(part, text) if _DIGITS_RE.fullmatch(part) else part


def _parse_prerelease(label: str, text: str) -> tuple[Identifier, ...]:
    parts = label.split(".")
    for part in parts:
        if not _PRE_IDENT_RE.fullmatch(part):
            raise VersionError(
                f"invalid prerelease {label!r} in {text!r}: identifiers must be non-empty, of "
                "[0-9A-Za-z-], and numeric ones must not have leading zeros (rc.1, beta.2)"
            )
    return tuple(_prerelease_ident(part, text) for part in parts)


@dataclass(frozen=True)
class Version:
    """A Semantic Versioning 2.0.0 version.

    ``prerelease`` holds numeric identifiers as ``int`` and the others as ``str``.
    ``==`` and ``hash`` compare every field, build metadata included; ``<``, ``<=``, ``>``,
    ``>=`` compare :meth:`precedence_key`, which ignores build metadata (semver items 10, 11),
    so two versions that differ only in build metadata are neither ``<`` nor ``>`` each other.
    """

    major: int
    minor: int
    patch: int
    prerelease: tuple[Identifier, ...] = ()
    build: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for value in (self.major, self.minor, self.patch):
            if type(value) is not int or value < 0:
                raise VersionError(
                    f"invalid version number {value!r}: must be a non-negative integer"
                )
        if not isinstance(self.prerelease, tuple) or not isinstance(self.build, tuple):
            raise VersionError("prerelease and build must be tuples of identifiers")
        for ident in self.prerelease:
            if type(ident) is int:
                if ident < 0:
                    raise VersionError(f"invalid prerelease identifier {ident!r}: negative")
            elif not isinstance(ident, str) or not _PRE_IDENT_RE.fullmatch(ident):
                raise VersionError(
                    f"invalid prerelease identifier {ident!r}: expected a non-empty string "
                    "of [0-9A-Za-z-] or an int"
                )
            elif _DIGITS_RE.fullmatch(ident):
                raise VersionError(
                    f"invalid prerelease identifier {ident!r}: numeric identifiers are ints"
                )
        for ident in self.build:
            if not isinstance(ident, str) or not _BUILD_IDENT_RE.fullmatch(ident):
                raise VersionError(
                    f"invalid build identifier {ident!r}: expected a non-empty string of "
                    "[0-9A-Za-z-]"
                )

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``1.2.3`` or ``v1.2.3`` with optional ``-prerelease`` and ``+build``."""
        if not isinstance(text, str):
            raise VersionError(f"invalid version {text!r}: {_EXPECTED}")
        match = _VERSION_RE.fullmatch(text)
        if match is None:
            raise VersionError(f"invalid version {text!r}: {_EXPECTED}")
        pre = match["pre"]
        build = match["build"]
        return cls(
            _to_int(match["major"], text),
            _to_int(match["minor"], text),
            _to_int(match["patch"], text),
            _parse_prerelease(pre, text) if pre else (),
            tuple(build.split(".")) if build else (),
        )

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(ident) for ident in self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    @property
    def tag_text(self) -> str:
        """The version as written in a tag: ``v1.2.3-rc.1+build.5``."""
        return f"v{self}"

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    @property
    def core(self) -> tuple[int, int, int]:
        """``(major, minor, patch)``."""
        return (self.major, self.minor, self.patch)

    @property
    def release(self) -> Version:
        """The same ``MAJOR.MINOR.PATCH`` without prerelease and build metadata."""
        return Version(self.major, self.minor, self.patch)

    def precedence_key(self) -> PrecedenceKey:
        """A key whose ordering is semver precedence; equal keys mean equal precedence."""
        idents = tuple(
            (0, ident, "") if isinstance(ident, int) else (1, 0, ident) for ident in self.prerelease
        )
        # A release (1) sorts after every prerelease (0) of the same MAJOR.MINOR.PATCH.
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, idents)

    def same_precedence(self, other: Version) -> bool:
        return self.precedence_key() == other.precedence_key()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() < other.precedence_key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() <= other.precedence_key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() > other.precedence_key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() >= other.precedence_key()

    def bump(self, part: str) -> Version:
        """The next ``major``, ``minor`` or ``patch`` version, as npm's ``semver.inc`` does.

        Lower parts reset to zero and prerelease and build are dropped. A prerelease whose
        lower parts are already zero bumps to its own release: ``1.2.0-rc.1`` → ``1.2.0`` for
        ``minor``, ``2.0.0-rc.1`` → ``2.0.0`` for ``major``, ``1.2.3-rc.1`` → ``1.2.3`` for
        ``patch``. The result is always greater than ``self``.
        """
        pre = self.is_prerelease
        if part == "major":
            if pre and self.minor == 0 and self.patch == 0:
                return Version(self.major, 0, 0)
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            if pre and self.patch == 0:
                return Version(self.major, self.minor, 0)
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            if pre:
                return Version(self.major, self.minor, self.patch)
            return Version(self.major, self.minor, self.patch + 1)
        raise VersionError(f"invalid version part {part!r}: expected major, minor or patch")

    def with_prerelease(self, label: str) -> Version:
        """This ``MAJOR.MINOR.PATCH`` with prerelease ``label`` (``rc.1``) and no build."""
        if not label:
            return self.release
        return Version(self.major, self.minor, self.patch, _parse_prerelease(label, label))

    def with_build(self, build: str) -> Version:
        """This version with build metadata ``build`` (``exp.sha.5114f85``), or none if empty."""
        idents = tuple(build.split(".")) if build else ()
        return replace(self, build=idents)


def next_prerelease(base: Version, label: str, existing: Iterable[Version]) -> Version:
    """``X.Y.Z-label.N`` for ``base``'s ``X.Y.Z``, N one more than the highest existing.

    Only versions of the same ``X.Y.Z`` whose prerelease is exactly ``label`` followed by one
    number count; the first is ``label.1``.
    """
    prefix = _parse_prerelease(label, label)
    highest = 0
    for version in existing:
        pre = version.prerelease
        if (
            version.core == base.core
            and len(pre) == len(prefix) + 1
            and pre[: len(prefix)] == prefix
            and isinstance(pre[-1], int)
        ):
            highest = max(highest, pre[-1])
    return Version(base.major, base.minor, base.patch, (*prefix, highest + 1))


# --------------------------------------------------------------------------------------------
# Version specs (ranges)
# --------------------------------------------------------------------------------------------

_RANGE_RE = re.compile(
    rf"(?P<op>[\^~]?)v?(?P<major>{_NUM})(?:\.(?P<minor>{_NUM})(?:\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRERELEASE}))?(?:\+(?P<build>{_BUILD}))?)?)?",
    re.ASCII,
)
_RANGE_EXPECTED = (
    "expected latest, an exact version (1.2.3 or v1.2.3), a partial one (1.2 for 1.2.*, 1 for "
    "1.*), a caret range (^1, ^1.2, ^1.2.3) or a tilde range (~1.2, ~1.2.3)"
)


@dataclass(frozen=True)
class VersionRange:
    """A set of versions chosen by a spec such as ``^1.2`` or ``latest``.

    ``lower`` is inclusive and ``upper`` exclusive (``None``: unbounded). ``exact`` is set for
    an exact spec, which matches versions of the same precedence (and the same build metadata
    if the spec has some). Prereleases match only an exact prerelease spec, or, as in npm, a
    range whose lower bound is a prerelease of the same ``MAJOR.MINOR.PATCH``.
    """

    text: str
    lower: Version | None = None
    upper: Version | None = None
    exact: Version | None = None

    def __str__(self) -> str:
        return self.text

    @property
    def is_latest(self) -> bool:
        return self.lower is None and self.upper is None and self.exact is None

    def matches(self, version: Version) -> bool:
        if self.exact is not None:
            if not version.same_precedence(self.exact):
                return False
            return not self.exact.build or version.build == self.exact.build
        if version.is_prerelease and not (
            self.lower is not None and self.lower.is_prerelease and self.lower.core == version.core
        ):
            return False
        if self.lower is not None and version < self.lower:
            return False
        return not (self.upper is not None and version >= self.upper)

    def best(self, versions: Iterable[Version]) -> Version | None:
        """The greatest matching version (ties on precedence broken by build), or ``None``."""
        found = [version for version in versions if self.matches(version)]
        if not found:
            return None
        return max(found, key=lambda v: (v.precedence_key(), v.build))


def parse_range(text: str) -> VersionRange:
    """Parse a version spec; see docs/tags.md ("Version specs") for the forms."""
    if text == "latest":
        return VersionRange(text)
    match = _RANGE_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise VersionError(f"invalid version spec {text!r}: {_RANGE_EXPECTED}")
    op = match["op"]
    major = _to_int(match["major"], text)
    minor = None if match["minor"] is None else _to_int(match["minor"], text)
    patch = None if match["patch"] is None else _to_int(match["patch"], text)
    if patch is not None:
        assert minor is not None
        pre = _parse_prerelease(match["pre"], text) if match["pre"] else ()
        build = tuple(match["build"].split(".")) if match["build"] else ()
        full = Version(major, minor, patch, pre, build)
        if not op:
            return VersionRange(text, exact=full)
        if build:
            raise VersionError(
                f"invalid version spec {text!r}: build metadata is allowed only in an exact version"
            )
        lower = full
        if op == "~" or (major == 0 and minor > 0):
            upper = Version(major, minor + 1, 0)
        elif major == 0:
            upper = Version(0, 0, patch + 1)
        else:
            upper = Version(major + 1, 0, 0)
        return VersionRange(text, lower=lower, upper=upper)
    if minor is not None:
        lower = Version(major, minor, 0)
        if op == "^" and major > 0:
            upper = Version(major + 1, 0, 0)
        else:  # 1.2, ~1.2, ^0.2 and ^0.0 all mean the minor series
            upper = Version(major, minor + 1, 0)
        return VersionRange(text, lower=lower, upper=upper)
    # 1, ^1 and ~1 all mean the major series.
    return VersionRange(text, lower=Version(major, 0, 0), upper=Version(major + 1, 0, 0))


# --------------------------------------------------------------------------------------------
# Names, stages and tags: iterative/gto 1.x grammar
# --------------------------------------------------------------------------------------------

# GTO (gto/constants.py) accepts letters of either case, digits, "-", "_" and "/", starting and
# ending with a letter or digit, for artifact names and stages alike.
NAME_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9_/-]*[A-Za-z0-9])?"
# GTO's "dirname:name" form for artifacts declared in a subdirectory, written "dirname=name" in
# tags.
_DIRNAME_PATTERN = r"[A-Za-z0-9_./-]+"
# gitmodel writes only lower-case names: refs are files, and on a case-insensitive file system
# "Model@v1.0.0" and "model@v1.0.0" would be the same tag.
_OWN_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9_/-]*[a-z0-9])?", re.ASCII)
_NAME_RE = re.compile(NAME_PATTERN, re.ASCII)
_FULLNAME_RE = re.compile(rf"(?:{_DIRNAME_PATTERN}:)?{NAME_PATTERN}", re.ASCII)
_TAG_RE = re.compile(
    rf"(?P<name>(?:{_DIRNAME_PATTERN}=)?{NAME_PATTERN})"
    rf"(?:(?:#(?P<stage>{NAME_PATTERN})|@(?P<version>v{_SEMVER}))(?P<cancel>!?)"
    rf"|@(?P<deprecated>deprecated))"
    rf"(?:#(?P<number>[0-9]+))?",
    re.ASCII,
)
_NAME_RULE = (
    "use lower-case letters a-z, digits 0-9, '-', '_' and '/', starting and ending with a "
    "letter or digit, with no '//' (for example 'churn-model' or 'nlp/classifier')"
)
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def check_name(name: str) -> str:
    """Return ``name`` if gitmodel may create a model of that name; raise VersionError if not.

    The rule is GTO's artifact-name grammar restricted to lower case, so that every name
    gitmodel writes is one gto reads and no two tags differ only in case.
    """
    if not isinstance(name, str) or not _OWN_NAME_RE.fullmatch(name) or "//" in name:
        raise VersionError(f"invalid model name {name!r}: {_NAME_RULE}")
    return name


def check_stage(stage: str) -> str:
    """Return ``stage`` if gitmodel may assign it (same rule as names); else raise."""
    if not isinstance(stage, str) or not _OWN_NAME_RE.fullmatch(stage) or "//" in stage:
        raise VersionError(f"invalid stage {stage!r}: {_NAME_RULE.replace('churn-model', 'prod')}")
    return stage


def check_tag_ref(tagname: str) -> str:
    """Return ``tagname`` if ``refs/tags/<tagname>`` is a valid git ref name; else raise.

    The rules of git-check-ref-format: no control characters, space, ``~ ^ : ? * [ \\``; no
    ``..``, ``@{`` or ``//``; no component that starts with ``.`` or ends with ``.lock``; no
    trailing ``/`` or ``.``.
    """
    problem = _ref_problem(tagname)
    if problem:
        raise VersionError(f"invalid tag name {tagname!r}: {problem}")
    return tagname


def _ref_problem(tagname: str) -> str | None:
    if not tagname:
        return "it is empty"
    if _BAD_REF_CHARS.search(tagname):
        return "it contains a space, a control character or one of ~ ^ : ? * [ \\"
    if ".." in tagname or "@{" in tagname:
        return "it contains '..' or '@{'"
    if tagname.endswith(("/", ".")):
        return "it ends with '/' or '.'"
    for component in tagname.split("/"):
        if not component:
            return "it contains '//' or starts with '/'"
        if component.startswith(".") or component.endswith(".lock"):
            return "a component starts with '.' or ends with '.lock'"
    return None


@dataclass(frozen=True)
class Register:
    """``NAME@vX.Y.Z``: version X.Y.Z of NAME is the commit the tag points at."""

    name: str
    version: Version
    number: int | None = None


@dataclass(frozen=True)
class Deregister:
    """``NAME@vX.Y.Z!``: version X.Y.Z of NAME is withdrawn."""

    name: str
    version: Version
    number: int | None = None


@dataclass(frozen=True)
class Assign:
    """``NAME#STAGE#N``: the version at the tagged commit enters STAGE (N-th event of NAME)."""

    name: str
    stage: str
    number: int | None


@dataclass(frozen=True)
class Unassign:
    """``NAME#STAGE!#N``: the version at the tagged commit leaves STAGE."""

    name: str
    stage: str
    number: int | None


@dataclass(frozen=True)
class Deprecate:
    """``NAME@deprecated`` or ``NAME@deprecated#N``: the whole model is deprecated."""

    name: str
    number: int | None = None


TagEvent: TypeAlias = Register | Deregister | Assign | Unassign | Deprecate


def parse_tag(tagname: str) -> TagEvent | None:
    """Read a tag name of the GTO grammar; ``None`` for any other text. Never raises.

    A name written ``dirname=name`` in the tag (GTO's form for an artifact declared in a
    subdirectory) is returned as ``dirname:name``, as gto shows it.
    """
    if not isinstance(tagname, str) or _ref_problem(tagname) is not None:
        return None
    match = _TAG_RE.fullmatch(tagname)
    if match is None:
        return None
    name = match["name"].replace("=", ":")
    digits = match["number"]
    try:
        number = None if digits is None else int(digits)
        if match["deprecated"]:
            return Deprecate(name, number)
        stage = match["stage"]
        cancel = match["cancel"] == "!"
        if stage is not None:
            return Unassign(name, stage, number) if cancel else Assign(name, stage, number)
        version = Version.parse(match["version"])
    except (ValueError, VersionError):  # a number too long for int()
        return None
    return Deregister(name, version, number) if cancel else Register(name, version, number)


def _tag_name(name: str) -> str:
    if not isinstance(name, str) or not _FULLNAME_RE.fullmatch(name):
        raise VersionError(f"invalid model name {name!r}: {_NAME_RULE}")
    return name.replace(":", "=")


def _suffix(number: int | None) -> str:
    if number is None:
        return ""
    if type(number) is not int or number < 0:
        raise VersionError(f"invalid tag number {number!r}: must be a non-negative integer")
    return f"#{number}"


def _stage(stage: str) -> str:
    if not isinstance(stage, str) or not _NAME_RE.fullmatch(stage):
        raise VersionError(f"invalid stage {stage!r}: {_NAME_RULE}")
    return stage


def format_register(name: str, version: Version, number: int | None = None) -> str:
    return check_tag_ref(f"{_tag_name(name)}@{version.tag_text}{_suffix(number)}")


def format_deregister(name: str, version: Version, number: int | None = None) -> str:
    return check_tag_ref(f"{_tag_name(name)}@{version.tag_text}!{_suffix(number)}")


def format_assign(name: str, stage: str, number: int | None) -> str:
    return check_tag_ref(f"{_tag_name(name)}#{_stage(stage)}{_suffix(number)}")


def format_unassign(name: str, stage: str, number: int | None) -> str:
    return check_tag_ref(f"{_tag_name(name)}#{_stage(stage)}!{_suffix(number)}")


def format_deprecate(name: str, number: int | None = None) -> str:
    return check_tag_ref(f"{_tag_name(name)}@deprecated{_suffix(number)}")


def format_tag(event: TagEvent) -> str:
    """The tag name for ``event``; ``parse_tag(format_tag(e)) == e``."""
    if isinstance(event, Register):
        return format_register(event.name, event.version, event.number)
    if isinstance(event, Deregister):
        return format_deregister(event.name, event.version, event.number)
    if isinstance(event, Assign):
        return format_assign(event.name, event.stage, event.number)
    if isinstance(event, Unassign):
        return format_unassign(event.name, event.stage, event.number)
    return format_deprecate(event.name, event.number)


def next_tag_number(events: Iterable[TagEvent], name: str) -> int:
    """The ``N`` for NAME's next numbered tag: one more than the highest of any kind, from 1.

    As in GTO, the count is per model, shared by assign, unassign and deprecate tags (and by
    register/deregister tags that carry a number).
    """
    highest = 0
    for event in events:
        if event.name == name and event.number is not None:
            highest = max(highest, event.number)
    return highest + 1


# --------------------------------------------------------------------------------------------
# Model specs: NAME@RANGE, NAME#STAGE, NAME
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """What ``NAME``, ``NAME@RANGE`` or ``NAME#STAGE`` asks for.

    At most one of ``range`` and ``stage`` is set; neither for a bare ``NAME``.
    """

    name: str
    range: VersionRange | None = None
    stage: str | None = None


def parse_spec(text: str) -> ModelSpec:
    """Split ``NAME@v1.2.3``, ``NAME@^1``, ``NAME@latest``, ``NAME#prod`` or ``NAME``."""
    if not isinstance(text, str):
        raise VersionError(f"invalid model spec {text!r}")
    at, hash_ = text.find("@"), text.find("#")
    if at < 0 and hash_ < 0:
        return ModelSpec(_spec_name(text, text))
    if hash_ < 0 or (0 <= at < hash_):
        name, rest = text[:at], text[at + 1 :]
        return ModelSpec(_spec_name(name, text), range=parse_range(rest))
    name, stage = text[:hash_], text[hash_ + 1 :]
    if not _NAME_RE.fullmatch(stage):
        raise VersionError(
            f"invalid model spec {text!r}: expected NAME#STAGE with a stage such as prod "
            "(letters, digits, '-', '_', '/')"
        )
    return ModelSpec(_spec_name(name, text), stage=stage)


def _spec_name(name: str, text: str) -> str:
    if not _FULLNAME_RE.fullmatch(name):
        raise VersionError(
            f"invalid model spec {text!r}: expected NAME, NAME@VERSION-SPEC or NAME#STAGE, "
            f"where NAME is a model name such as churn-model"
        )
    return name
