"""The suite's own rules: under CI, a test that skips fails (issue 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")


def run_inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: bool) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_inner='''
import pytest

def test_runs():
    assert True

@pytest.mark.skipif(True, reason="no such tool")
def test_skips():
    pass

def test_skips_inside():
    pytest.skip("found nothing")

@pytest.mark.xfail(reason="known", strict=True)
def test_xfails():
    assert False
''')
    if ci:
        monkeypatch.setenv("CI", "1")
    else:
        monkeypatch.delenv("CI", raising=False)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider")


def test_a_skip_fails_under_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_inner(pytester, monkeypatch, ci=True)
    result.assert_outcomes(passed=1, failed=1, errors=1, xfailed=1)
    result.stdout.fnmatch_lines(["*skipped under CI (*no such tool*", "*skipped under CI (*found nothing*"])


def test_a_skip_is_a_skip_elsewhere(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_inner(pytester, monkeypatch, ci=False)
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
