"""Version ordering tables taken from each ecosystem's documentation (each list is ascending)."""

from __future__ import annotations

import itertools
import shutil
import subprocess

import pytest

from repositories.scanning.versions import compare, sort_key


def assert_ascending(ecosystem: str, versions: list[str]) -> None:
    for (i, a), (j, b) in itertools.combinations(enumerate(versions), 2):
        assert compare(ecosystem, a, b) == -1, f"{a} < {b} in {ecosystem}"
        assert compare(ecosystem, b, a) == 1, f"{b} > {a} in {ecosystem}"
    for v in versions:
        assert compare(ecosystem, v, v) == 0
    assert sorted(reversed(versions), key=sort_key(ecosystem)) == versions


# Debian Policy 5.6.12: "~" sorts before anything, even the end; letters before non-letters;
# digits numerically; the epoch first; the revision after the upstream version.
DPKG = [
    "~~~1", "~~", "~~a", "~", "1.0~~", "1.0~~a", "1.0~", "1.0~rc1", "1.0", "1.0-1", "1.0-1.1", "1.0-2", "1.0-10", "1.0a",
    "1.0+", "1.0+b1", "1.0.1", "1.2", "1.10", "2.30.2-1", "2.30.2-1+deb11u1", "2.30.2-1+deb11u2", "3.0.11-1~deb12u2",
    "3.0.11-1", "1:0.1", "1:1.0", "2:0.0.1",
]


def test_dpkg_ordering_follows_debian_policy():
    assert_ascending("Debian:12", DPKG)
    assert compare("Ubuntu:22.04", "1.0-1ubuntu1", "1.0-1ubuntu1.1") == -1


def test_dpkg_equal_forms():
    assert compare("Debian", "0:1.0-1", "1.0-1") == 0
    assert compare("Debian", "1.01", "1.1") == 0  # leading zeros do not count in digit runs
    assert compare("Debian", "1.0-0", "1.0") == 0  # an absent revision compares as "0"... as an empty string
    assert compare("Debian", "1:1.0", "9.9") == 1


# apk: digits{.digits}[letter]{_suffix[N]}[-rN]; _alpha<_beta<_pre<_rc<(none)<_cvs<_svn<_git<_hg<_p
APK = [
    "0.9", "1.0_alpha", "1.0_alpha1", "1.0_alpha2", "1.0_beta", "1.0_beta3", "1.0_pre1", "1.0_rc1", "1.0", "1.0-r1",
    "1.0-r2", "1.0_cvs1", "1.0_svn", "1.0_git20240101", "1.0_hg1", "1.0_p1", "1.0_p2", "1.0a", "1.0b", "1.0.1", "1.0.1-r9",
    "1.2", "1.10", "3.1.4-r5", "3.1.4-r10",
]


def test_apk_ordering_follows_apk_rules():
    assert_ascending("Alpine:v3.19", APK)


def test_apk_leading_zero_components_compare_as_fractions():
    assert compare("Alpine", "1.01", "1.1") == -1
    assert compare("Alpine", "1.001", "1.01") == -1
    assert compare("Alpine", "1.0-r0", "1.0") == 0 or compare("Alpine", "1.0-r0", "1.0") == 1


# rpm: rpmvercmp's segments, "~" before anything, "^" after the base but before anything else.
RPM = [
    "1.0~rc1", "1.0", "1.0^", "1.0^git1", "1.0^git2", "1.0a", "1.0.1~rc1", "1.0.1", "1.0.1^20240101", "1.0.1.1", "1.00002",
    "1.10", "2.0",
]


def test_rpmvercmp_table_from_rpm_documentation():
    assert_ascending("Rocky Linux:9", RPM)
    assert compare("Red Hat", "1.0a", "1.0") == 1
    assert compare("Red Hat", "1.001", "1.1") == 0  # leading zeros stripped
    assert compare("Red Hat", "1.0_1", "1.0.1") == 0  # separators only separate
    assert compare("Red Hat", "2.0", "2a") == 1  # a number beats letters
    assert compare("Red Hat", "1.0~rc1", "1.0~rc2") == -1


def test_rpm_epoch_version_release():
    assert_ascending("AlmaLinux:9", ["3.0.7-16.el9", "3.0.7-16.el9_2", "3.0.7-17.el9", "3.0.7-24.el9", "3.0.10-1.el9", "1:1.0-1.el9",
                                      "1:3.0.7-1.el9"])
    assert compare("Red Hat", "1.0", "1.0-5.el9") == 0  # no release on one side: not compared


# PEP 440's own example ordering.
PEP440 = [
    "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456",
    "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456",
    "1.0.15", "1.1.dev1", "1!0.1",
]


def test_pep440_example_ordering():
    assert_ascending("PyPI", PEP440)
    assert compare("PyPI", "1.0", "1.0.0") == 0
    assert compare("PyPI", "1.0RC1", "1.0rc1") == 0


# SemVer 2.0 section 11's example, Go's v-prefixed versions and pseudo-versions.
SEMVER = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
          "2.0.0", "2.1.0", "2.1.1", "10.0.0"]
GO = ["v0.0.0-20191109021931-daa7c04131f5", "v0.1.0", "v1.2.3-pre", "v1.2.3", "v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4",
      "v1.10.0", "v2.0.0+incompatible", "v2.0.1"]


def test_semver_precedence_example():
    assert_ascending("npm", SEMVER)
    assert compare("npm", "1.0.0+build.1", "1.0.0+build.2") == 0  # build metadata is ignored


def test_go_versions_and_pseudo_versions():
    assert_ascending("Go", GO)
    assert compare("Go", "v1.2.3", "1.2.3") == 0


# Maven's ComparableVersion documentation and its test table.
MAVEN = [
    "1-alpha", "1-alpha-1", "1-alpha-2", "1-beta-1", "1-milestone-1", "1-rc-1", "1-snapshot", "1", "1-sp", "1-sp-1", "1-abc",
    "1-1", "1.0.1", "1.1", "1.2", "1.10", "2.0-alpha1", "2.0",
]


def test_maven_comparable_version_ordering():
    assert_ascending("Maven", MAVEN)


@pytest.mark.parametrize("a,b", [
    ("1", "1.0"), ("1", "1.0.0"), ("1", "1-ga"), ("1", "1.final"), ("1", "1-release"), ("1-a1", "1-alpha-1"),
    ("1.0alpha1", "1.0-a1"), ("1-cr1", "1-rc1"), ("1.0RC1", "1.0-rc-1"), ("1-0", "1"),
])
def test_maven_equal_versions(a, b):
    assert compare("Maven", a, b) == 0


def test_maven_hyphen_is_less_important_than_dot():
    assert_ascending("Maven", ["1.0-RC3", "1.0.1"])
    assert_ascending("Maven", ["1-1", "1.1"])
    assert compare("Maven", "1-foo2", "1-foo10") == -1


def test_malformed_versions_still_compare():
    assert compare("PyPI", "not a version", "1.0") in (-1, 1)
    assert compare("npm", "1.x", "2.0.0") == -1
    assert compare("Unknown-Ecosystem", "1.2", "1.10") == -1


@pytest.mark.skipif(not shutil.which("dpkg"), reason="dpkg is not installed")
def test_dpkg_table_agrees_with_the_real_dpkg():
    for a, b in itertools.combinations(DPKG, 2):
        assert subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False).returncode == 0, f"dpkg: {a} < {b}"
