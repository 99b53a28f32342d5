"""Tests for gitmodel.semver: semver, version specs and the GTO tag grammar."""

from __future__ import annotations

import itertools
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitmodel.errors import VersionError
from gitmodel.semver import (
    Assign,
    Deprecate,
    Deregister,
    ModelSpec,
    Register,
    TagEvent,
    Unassign,
    Version,
    check_name,
    check_stage,
    check_tag_ref,
    format_assign,
    format_deprecate,
    format_deregister,
    format_register,
    format_tag,
    format_unassign,
    next_prerelease,
    next_tag_number,
    parse_range,
    parse_spec,
    parse_tag,
)

FAST = settings(max_examples=200, deadline=None)

# ---------------------------------------------------------------------------- strategies

numbers = st.integers(min_value=0, max_value=10**12)
alnum = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"
alpha_ident = st.text(alphabet=alnum, min_size=1, max_size=8).filter(lambda s: not s.isdigit())
pre_ident = st.one_of(numbers, alpha_ident)
build_ident = st.text(alphabet=alnum, min_size=1, max_size=8)
versions = st.builds(
    Version,
    numbers,
    numbers,
    numbers,
    st.lists(pre_ident, max_size=4).map(tuple),
    st.lists(build_ident, max_size=3).map(tuple),
)
small_versions = st.builds(
    Version,
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.lists(
        st.one_of(st.integers(0, 3), st.sampled_from(["alpha", "beta", "rc"])), max_size=2
    ).map(tuple),
    st.lists(st.sampled_from(["b1", "b2"]), max_size=1).map(tuple),
)

lower = "abcdefghijklmnopqrstuvwxyz0123456789"
names = st.builds(
    lambda first, middle, last: first + middle + last if middle or last else first,
    st.sampled_from(lower),
    st.text(alphabet=lower + "-_/", max_size=12),
    st.sampled_from(["", *lower]),
).filter(lambda n: "//" not in n and not n.endswith(("-", "_", "/")))
gto_names = st.from_regex(r"\A[A-Za-z0-9](?:[A-Za-z0-9_/-]{0,10}[A-Za-z0-9])?\Z").filter(
    lambda n: "//" not in n
)
stages = st.from_regex(r"\A[a-z0-9](?:[a-z0-9_-]{0,8}[a-z0-9])?\Z")
tag_numbers = st.one_of(st.none(), st.integers(min_value=0, max_value=10**6))


@st.composite
def tag_events(draw: st.DrawFn) -> TagEvent:
    name = draw(st.one_of(names, gto_names))
    kind = draw(st.sampled_from(["register", "deregister", "assign", "unassign", "deprecate"]))
    number = draw(tag_numbers)
    if kind == "register":
        return Register(name, draw(versions), number)
    if kind == "deregister":
        return Deregister(name, draw(versions), number)
    if kind == "assign":
        return Assign(name, draw(stages), number)
    if kind == "unassign":
        return Unassign(name, draw(stages), number)
    return Deprecate(name, number)


# ---------------------------------------------------------------------------- parsing


def test_parse_forms() -> None:
    assert Version.parse("1.2.3") == Version(1, 2, 3)
    assert Version.parse("v1.2.3") == Version(1, 2, 3)
    v = Version.parse("v1.2.3-rc.1+build.5")
    assert v == Version(1, 2, 3, ("rc", 1), ("build", "5"))
    assert str(v) == "1.2.3-rc.1+build.5"
    assert v.tag_text == "v1.2.3-rc.1+build.5"
    assert Version.parse("1.0.0-0A.is.legal").prerelease == ("0A", "is", "legal")
    assert Version.parse("1.0.0+001").build == ("001",)  # build identifiers may have zeros


@pytest.mark.parametrize(
    "text",
    [
        "v1.2",
        "1.2.3.4",
        "v01.2.3",
        "1.2.3-",
        "1.2.3-01",
        "1.2.3+",
        "1.2.3-a..b",
        "1.2.3+a..b",
        "",
        "v",
        "V1.2.3",
        "1.2.3 ",
        " 1.2.3",
        "1.2.3\n",
        "1.2.3-rc_1",
        "vv1.2.3",
        "1.2.-3",
        "\u0661.2.3",  # ARABIC-INDIC DIGIT ONE
        "1." + "9" * 5000 + ".0",
    ],
)
def test_invalid_versions(text: str) -> None:
    with pytest.raises(VersionError) as info:
        Version.parse(text)
    assert repr(text)[:20] in str(info.value) or "too large" in str(info.value)


def test_error_message_names_input_and_expected_form() -> None:
    with pytest.raises(VersionError, match=r"invalid version 'v1\.2': expected MAJOR\.MINOR"):
        Version.parse("v1.2")
    with pytest.raises(VersionError, match=r"such as v1\.2\.3"):
        Version.parse("v1.2")


def test_constructor_validates() -> None:
    for bad in [
        lambda: Version(-1, 0, 0),
        lambda: Version(1, 0, 0, ("01",)),
        lambda: Version(1, 0, 0, ("1",)),
        lambda: Version(1, 0, 0, ("",)),
        lambda: Version(1, 0, 0, (), ("a b",)),
        lambda: Version(1, 0, 0, (-1,)),
    ]:
        with pytest.raises(VersionError):
            bad()


@FAST
@given(versions)
def test_round_trip(v: Version) -> None:
    assert Version.parse(str(v)) == v
    assert Version.parse(v.tag_text) == v


# ---------------------------------------------------------------------------- ordering

SPEC_CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
]


def test_spec_example_chain() -> None:
    chain = [Version.parse(t) for t in SPEC_CHAIN]
    for a, b in itertools.pairwise(chain):
        assert a < b and b > a and a <= b and not b <= a and a != b
    assert sorted(reversed(chain)) == chain


def test_build_metadata_ignored_for_ordering_not_equality() -> None:
    a = Version.parse("1.0.0+a")
    b = Version.parse("1.0.0+b")
    assert not a < b and not b < a and a <= b and b <= a and a >= b
    assert a.same_precedence(b) and a.precedence_key() == b.precedence_key()
    assert a != b and a == Version.parse("1.0.0+a")
    assert hash(a) == hash(Version.parse("v1.0.0+a"))


@FAST
@given(small_versions, small_versions, small_versions)
def test_total_order(a: Version, b: Version, c: Version) -> None:
    # Exactly one of <, same precedence, > holds.
    assert [a < b, a.same_precedence(b), a > b].count(True) == 1
    assert (a < b) == (b > a) and (a <= b) == (b >= a)
    if a <= b and b <= c:
        assert a <= c
    if a < b and b < c:
        assert a < c
    if a == b:
        assert a.same_precedence(b)


@FAST
@given(versions, versions)
def test_order_matches_key_and_ignores_build(a: Version, b: Version) -> None:
    assert (a < b) == (a.precedence_key() < b.precedence_key())
    stripped_a = Version(a.major, a.minor, a.patch, a.prerelease)
    stripped_b = Version(b.major, b.minor, b.patch, b.prerelease)
    assert (a < b) == (stripped_a < stripped_b)


def test_comparison_with_other_types() -> None:
    with pytest.raises(TypeError):
        _ = Version(1, 0, 0) < "1.0.0"
    assert Version(1, 0, 0) != "1.0.0"


# ---------------------------------------------------------------------------- bumping


@pytest.mark.parametrize(
    ("text", "part", "expected"),
    [
        ("1.2.3", "major", "2.0.0"),
        ("1.2.3", "minor", "1.3.0"),
        ("1.2.3", "patch", "1.2.4"),
        ("1.2.3-rc.1+b", "patch", "1.2.3"),
        ("1.2.0-rc.1", "minor", "1.2.0"),
        ("1.2.0-rc.1", "patch", "1.2.0"),
        ("1.2.0-rc.1", "major", "2.0.0"),
        ("2.0.0-rc.1", "major", "2.0.0"),
        ("2.0.0-rc.1", "minor", "2.0.0"),
        ("1.2.3-rc.1", "minor", "1.3.0"),
        ("0.0.0", "patch", "0.0.1"),
        ("1.2.3+build", "patch", "1.2.4"),
    ],
)
def test_bump(text: str, part: str, expected: str) -> None:
    assert Version.parse(text).bump(part) == Version.parse(expected)


def test_bump_bad_part() -> None:
    with pytest.raises(VersionError, match="major, minor or patch"):
        Version(1, 0, 0).bump("micro")


@FAST
@given(versions, st.sampled_from(["major", "minor", "patch"]))
def test_bump_is_greater(v: Version, part: str) -> None:
    bumped = v.bump(part)
    assert bumped > v
    assert not bumped.prerelease and not bumped.build


def test_prerelease_helpers() -> None:
    base = Version(1, 2, 0)
    assert base.with_prerelease("rc.1") == Version.parse("1.2.0-rc.1")
    assert Version.parse("1.2.0-rc.1+b").with_prerelease("") == base
    with pytest.raises(VersionError):
        base.with_prerelease("rc.01")
    assert next_prerelease(base, "rc", []) == Version.parse("1.2.0-rc.1")
    existing = [
        Version.parse(t)
        for t in ["1.2.0-rc.1", "1.2.0-rc.4", "1.2.0-rc.x", "1.2.0-beta.9", "1.3.0-rc.7"]
    ]
    assert next_prerelease(base, "rc", existing) == Version.parse("1.2.0-rc.5")
    assert next_prerelease(Version.parse("1.2.0-rc.1"), "beta", existing).prerelease == (
        "beta",
        10,
    )
    assert base.with_build("sha.5114f85") == Version.parse("1.2.0+sha.5114f85")


# ---------------------------------------------------------------------------- ranges


def vs(*texts: str) -> list[Version]:
    return [Version.parse(t) for t in texts]


ALL = vs(
    "0.0.1", "0.0.2", "0.2.3", "0.2.9", "0.3.0", "1.0.0-rc.1", "1.0.0", "1.2.0", "1.2.3",
    "1.2.4", "1.2.5-beta.1", "1.3.0", "1.9.9", "2.0.0-alpha", "2.0.0", "2.1.0-rc.1",
)  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "matching"),
    [
        ("latest", ["0.0.1", "0.0.2", "0.2.3", "0.2.9", "0.3.0", "1.0.0", "1.2.0", "1.2.3",
                    "1.2.4", "1.3.0", "1.9.9", "2.0.0"]),
        ("1.2.3", ["1.2.3"]),
        ("v1.2.3", ["1.2.3"]),
        ("1.2.5-beta.1", ["1.2.5-beta.1"]),
        ("1.2", ["1.2.0", "1.2.3", "1.2.4"]),
        ("1", ["1.0.0", "1.2.0", "1.2.3", "1.2.4", "1.3.0", "1.9.9"]),
        ("^1", ["1.0.0", "1.2.0", "1.2.3", "1.2.4", "1.3.0", "1.9.9"]),
        ("^1.2", ["1.2.0", "1.2.3", "1.2.4", "1.3.0", "1.9.9"]),
        ("^1.2.3", ["1.2.3", "1.2.4", "1.3.0", "1.9.9"]),
        ("^0.2.3", ["0.2.3", "0.2.9"]),
        ("^0.2", ["0.2.3", "0.2.9"]),
        ("^0.0.1", ["0.0.1"]),
        ("^0.0", ["0.0.1", "0.0.2"]),
        ("^0", ["0.0.1", "0.0.2", "0.2.3", "0.2.9", "0.3.0"]),
        ("~1.2", ["1.2.0", "1.2.3", "1.2.4"]),
        ("~1.2.3", ["1.2.3", "1.2.4"]),
        ("~1", ["1.0.0", "1.2.0", "1.2.3", "1.2.4", "1.3.0", "1.9.9"]),
        ("^2.0.0-alpha", ["2.0.0-alpha", "2.0.0"]),
        ("^v1.2.3", ["1.2.3", "1.2.4", "1.3.0", "1.9.9"]),
        ("3", []),
    ],
)  # fmt: skip
def test_range_matching(spec: str, matching: list[str]) -> None:
    r = parse_range(spec)
    assert [str(v) for v in ALL if r.matches(v)] == matching
    best = r.best(reversed(ALL))
    assert (str(best) if best else None) == (matching[-1] if matching else None)


def test_range_examples_from_brief() -> None:
    assert not parse_range("^0.2.3").matches(Version(0, 3, 0))
    assert not parse_range("~1.2").matches(Version(1, 3, 0))
    assert not parse_range("^1").matches(Version.parse("1.5.0-rc.1"))
    assert parse_range("latest").best(vs("1.0.0", "2.0.0-rc.1")) == Version(1, 0, 0)
    assert parse_range("latest").best([]) is None
    assert parse_range("latest").is_latest
    exact_build = parse_range("1.0.0+b2")
    assert exact_build.best(vs("1.0.0+b1", "1.0.0+b2")) == Version.parse("1.0.0+b2")
    assert parse_range("1.0.0").best(vs("1.0.0+b1", "1.0.0+b2")) == Version.parse("1.0.0+b2")


@pytest.mark.parametrize(
    "spec",
    ["", "^", "~", "1.2.3.4", "01.2", "^01", "1.x", "*", ">=1.0.0", "^1.2.3+b", "Latest",
     "1.2.3-", "v", "^^1", "latest ", "1.2-rc.1"],
)  # fmt: skip
def test_bad_ranges(spec: str) -> None:
    with pytest.raises(VersionError, match="invalid version spec"):
        parse_range(spec)


@FAST
@given(small_versions, st.sampled_from(["^", "~", ""]), st.integers(1, 3))
def test_range_lower_bound_matches_itself(v: Version, op: str, depth: int) -> None:
    release = v.release
    text = op + ".".join(str(x) for x in release.core[:depth])
    r = parse_range(text)
    floor = Version(*(list(release.core[:depth]) + [0] * (3 - depth)))  # type: ignore[arg-type]
    assert r.matches(floor)
    # best is a candidate the range matches, of the greatest precedence, whatever the order
    # given (ties on precedence are broken by build, so the answer is still one version)
    matching = [x for x in (floor, v) if r.matches(x)]
    best = r.best([floor, v])
    assert best in matching
    assert all(x.precedence_key() <= best.precedence_key() for x in matching)
    assert r.best([v, floor]) == best


def test_parse_spec() -> None:
    assert parse_spec("churn") == ModelSpec("churn")
    assert parse_spec("churn#prod") == ModelSpec("churn", stage="prod")
    spec = parse_spec("churn@^1.2")
    assert spec.name == "churn" and spec.range == parse_range("^1.2") and spec.stage is None
    assert parse_spec("nlp/churn@latest").range == parse_range("latest")
    assert parse_spec("churn@v1.2.3").range is not None
    for bad in ["", "@1", "#prod", "churn#", "churn@", "churn#prod#1", "-churn@1", "churn@x"]:
        with pytest.raises(VersionError):
            parse_spec(bad)


# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name", ["", "-a", "a-", "A", "Churn", "a b", "a.b", "a//b", "a@b", "a#b", "/a", "a/", "é"]
)
def test_check_name_rejects(name: str) -> None:
    with pytest.raises(VersionError, match="lower-case letters a-z, digits 0-9"):
        check_name(name)
    with pytest.raises(VersionError):
        check_stage(name)


@pytest.mark.parametrize("name", ["a", "1", "churn-model", "nlp/classifier", "a_b", "a-_/-b"])
def test_check_name_accepts(name: str) -> None:
    assert check_name(name) == name


# ---------------------------------------------------------------------------- tags


def test_tag_examples() -> None:
    v = Version.parse("1.2.3-rc.1+b.5")
    assert format_register("churn", v) == "churn@v1.2.3-rc.1+b.5"
    assert format_deregister("churn", v) == "churn@v1.2.3-rc.1+b.5!"
    assert format_assign("churn", "prod", 3) == "churn#prod#3"
    assert format_unassign("churn", "prod", 4) == "churn#prod!#4"
    assert format_deprecate("churn") == "churn@deprecated"
    assert format_deprecate("churn", 5) == "churn@deprecated#5"
    assert parse_tag("churn@v1.2.3") == Register("churn", Version(1, 2, 3))
    assert parse_tag("churn@v1.2.3!") == Deregister("churn", Version(1, 2, 3))
    assert parse_tag("churn@v1.2.3#7") == Register("churn", Version(1, 2, 3), 7)
    assert parse_tag("churn#prod#1") == Assign("churn", "prod", 1)
    assert parse_tag("churn#prod") == Assign("churn", "prod", None)
    assert parse_tag("churn#prod!#2") == Unassign("churn", "prod", 2)
    assert parse_tag("churn@deprecated") == Deprecate("churn")
    assert parse_tag("churn@deprecated#9") == Deprecate("churn", 9)
    assert parse_tag("nlp/Churn_2#Prod#1") == Assign("nlp/Churn_2", "Prod", 1)
    # GTO's "dirname:name" artifacts are written "dirname=name" in tags.
    assert parse_tag("models/nlp=churn@v1.0.0") == Register("models/nlp:churn", Version(1, 0, 0))
    assert format_register("models/nlp:churn", Version(1, 0, 0)) == "models/nlp=churn@v1.0.0"


@pytest.mark.parametrize(
    "tag",
    [
        "v1.2.3", "churn", "churn@1.2.3", "churn@v1.2", "churn@v01.2.3", "churn@v1.2.3-",
        "churn@latest", "churn@created", "churn#", "churn#prod#", "churn#prod#1!",
        "churn#prod!!#1", "churn@@v1.0.0", "-churn@v1.0.0", "churn-@v1.0.0", "churn@deprecated!",
        "churn#prod#-1", "a//b@v1.0.0", "churn@v1.0.0#1#2", "churn#pr od#1", "churn#prod#1 ",
        "churn@v1.0.0\n", "", "@v1.0.0", "#prod#1", "a..b=c@v1.0.0", "dir/.x=c@v1.0.0",
        "churn#prod#\u0661",
    ],
)  # fmt: skip
def test_parse_tag_junk(tag: str) -> None:
    assert parse_tag(tag) is None


@FAST
@given(tag_events())
def test_tag_round_trip(event: TagEvent) -> None:
    tag = format_tag(event)
    assert parse_tag(tag) == event
    assert check_tag_ref(tag) == tag


@FAST
@given(st.text(max_size=60))
def test_parse_tag_never_raises(text: str) -> None:
    event = parse_tag(text)
    if event is not None:
        assert parse_tag(format_tag(event)) == event


@FAST
@given(st.text(alphabet="ab01-_/.#@!v+=", max_size=40))
def test_parse_tag_never_raises_on_near_misses(text: str) -> None:
    event = parse_tag(text)
    if event is not None:
        assert parse_tag(format_tag(event)) == event


def test_parse_tag_huge_number_is_none() -> None:
    assert parse_tag("churn#prod#" + "9" * 5000) is None
    assert parse_tag("churn@v" + "9" * 5000 + ".0.0") is None


def test_format_rejects() -> None:
    v = Version(1, 0, 0)
    for bad in [
        lambda: format_register("bad name", v),
        lambda: format_register("a//b", v),
        lambda: format_register("a..b:c", v),
        lambda: format_assign("churn", "bad stage", 1),
        lambda: format_assign("churn", "prod", -1),
        lambda: format_deprecate("churn", True),  # bool is not a number
    ]:
        with pytest.raises(VersionError):
            bad()


def test_next_tag_number() -> None:
    events = [
        parse_tag(t) for t in ["churn#prod#1", "churn#dev!#4", "churn@v1.0.0", "other#prod#9"]
    ]
    present = [e for e in events if e is not None]
    assert next_tag_number(present, "churn") == 5
    assert next_tag_number(present, "new") == 1


@pytest.mark.parametrize(
    "tag",
    ["churn@v1.2.3-rc.1+b.5!", "nlp/churn#prod!#12", "churn@deprecated#3", "d/x=churn@v1.0.0"],
)
def test_tags_are_valid_git_refs(tag: str) -> None:
    assert parse_tag(tag) is not None
    result = subprocess.run(
        ["git", "check-ref-format", f"refs/tags/{tag}"], capture_output=True, check=False
    )
    assert result.returncode == 0


@pytest.mark.parametrize("tag", ["a@{b", "a..b", "a/.b", "a.lock", "a b", "a//b", "a/", "a.", "/a"])
def test_check_tag_ref_agrees_with_git(tag: str) -> None:
    with pytest.raises(VersionError):
        check_tag_ref(tag)
    result = subprocess.run(
        ["git", "check-ref-format", f"refs/tags/{tag}"], capture_output=True, check=False
    )
    assert result.returncode != 0
