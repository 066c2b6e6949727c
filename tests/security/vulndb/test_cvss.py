"""CVSS v3 base scores of the worked examples in FIRST's CVSS v3.0/v3.1 "Examples" documents."""

from __future__ import annotations

import pytest

from repositories.scanning.cvss import CvssError, _roundup_30, _roundup_31, base_score, osv_severity, score, severity_from_rating

SPEC_EXAMPLES = [
    ("CVE-2013-1937 phpMyAdmin XSS", "AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "Medium"),
    ("CVE-2013-0375 MySQL", "AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, "Medium"),
    ("CVE-2014-3566 POODLE", "AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1, "Low"),
    ("CVE-2012-1516 VMware", "AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9, "Critical"),
    ("CVE-2012-0384 Cisco IOS", "AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8, "High"),
    ("CVE-2015-1098 iWork", "AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8, "High"),
    ("CVE-2014-0160 Heartbleed", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, "High"),
    ("CVE-2014-6271 Shellshock", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "Critical"),
    ("CVE-2008-1447 DNS cache poisoning", "AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8, "Medium"),
    ("CVE-2014-2005 Sophos", "AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8, "Medium"),
    ("CVE-2010-0467 Joomla", "AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8, "Medium"),
    ("CVE-2013-6014 Juniper", "AV:A/AC:L/PR:N/UI:N/S:C/C:N/I:H/A:H", 9.3, "Critical"),
]


@pytest.mark.parametrize("name,metrics,expected,severity", SPEC_EXAMPLES, ids=[e[0] for e in SPEC_EXAMPLES])
@pytest.mark.parametrize("version", ["3.0", "3.1"])
def test_spec_example_base_scores(name, metrics, expected, severity, version):
    scored = score(f"CVSS:{version}/{metrics}")
    assert scored.base_score == expected
    assert scored.severity == severity


def test_no_impact_scores_zero_and_is_negligible():
    scored = score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N")
    assert (scored.base_score, scored.severity) == (0.0, "Negligible")


def test_v31_roundup_avoids_floating_point_error():
    # the v3.1 spec's own reason for its Roundup: 4.000000000000001 must give 4.0, not 4.1
    assert _roundup_31(4.000000000000001) == 4.0
    assert _roundup_31(4.02) == 4.1
    assert _roundup_30(4.02) == 4.1


def test_temporal_metrics_are_ignored_for_the_base_score():
    assert base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:C") == 9.8


@pytest.mark.parametrize("vector", [
    "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:2.0/AV:N", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
    "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV",
])
def test_invalid_vectors_are_rejected(vector):
    with pytest.raises(CvssError):
        base_score(vector)


def test_osv_severity_prefers_the_highest_cvss_v3():
    record = {"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"},
                           {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
              "database_specific": {"severity": "LOW"}}
    sev = osv_severity(record)
    assert (sev.severity, sev.cvss_score) == ("High", 7.5)
    assert sev.cvss_vector.endswith("C:H/I:N/A:N")


@pytest.mark.parametrize("record,expected", [
    ({"database_specific": {"severity": "MODERATE"}}, "Medium"),  # GHSA
    ({"severity": [{"type": "Ubuntu", "score": "negligible"}]}, "Negligible"),
    ({"affected": [{"ecosystem_specific": {"urgency": "unimportant"}}]}, "Negligible"),  # Debian
    ({"affected": [{"database_specific": {"severity": "Important"}}]}, "High"),  # Red Hat family
    ({"severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]}, "Unknown"),
    ({}, "Unknown"),
])
def test_osv_severity_falls_back_to_the_ecosystem_rating(record, expected):
    assert osv_severity(record).severity == expected


def test_rating_words():
    assert severity_from_rating("CRITICAL") == "Critical"
    assert severity_from_rating("low*") == "Low"
    assert severity_from_rating("whatever") == "Unknown"
