"""The outbound (SSRF) policy of common.ssrf: what it refuses, what config allows, and that the
request goes to the address that was checked."""

from __future__ import annotations

import pytest

from common.ssrf import OutboundPolicy, OutboundURLError, check_url, outbound_request

STRICT = OutboundPolicy()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://10.0.0.1/hook", "private"),
        ("http://192.168.1.20:8080/hook", "private"),
        ("http://[::1]/hook", "loopback"),
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://169.254.10.10/hook", "link-local"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://localhost/hook", "loopback"),
    ],
)
def test_non_public_addresses_are_refused_by_default(url, reason):
    with pytest.raises(OutboundURLError) as refused:
        check_url(url, STRICT)

    assert reason in refused.value.message
    assert refused.value.http_status == 400


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://10.0.0.1/", "http:///nohost", "http://user:pw@93.184.216.34/"])
def test_only_plain_http_and_https_urls_with_a_host_pass(url):
    with pytest.raises(OutboundURLError):
        check_url(url, STRICT)


def test_a_public_address_passes_and_keeps_its_port():
    checked = check_url("https://93.184.216.34:8443/hook?x=1", STRICT)

    assert checked.addresses == ("93.184.216.34",)
    assert checked.url_for("93.184.216.34") == "https://93.184.216.34:8443/hook?x=1"
    assert checked.host_header == "93.184.216.34:8443"


def test_allow_private_networks_admits_private_ranges_but_never_loopback_or_metadata():
    policy = OutboundPolicy(allow_private_networks=True)

    assert check_url("http://10.0.0.1/hook", policy).addresses == ("10.0.0.1",)
    for url in ("http://127.0.0.1/hook", "http://169.254.169.254/", "http://[::1]/"):
        with pytest.raises(OutboundURLError):
            check_url(url, policy)


def test_allowed_hosts_admit_listed_addresses_networks_and_names():
    policy = OutboundPolicy(allowed_hosts=("127.0.0.1", "10.1.0.0/16", "localhost"))

    assert check_url("http://127.0.0.1:5000/", policy).addresses == ("127.0.0.1",)
    assert check_url("http://10.1.2.3/", policy).addresses == ("10.1.2.3",)
    assert "127.0.0.1" in check_url("http://localhost:5000/", policy).addresses
    with pytest.raises(OutboundURLError):
        check_url("http://10.2.0.1/", policy)


def test_the_policy_comes_from_the_outbound_config_section(settings, strict_outbound):
    with pytest.raises(OutboundURLError):
        check_url("http://127.0.0.1/hook")
    settings.MOORAGE = {**settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": ["127.0.0.1"]}}

    assert check_url("http://127.0.0.1/hook").addresses == ("127.0.0.1",)


def test_a_request_goes_to_the_checked_address_with_the_original_host_header(receiver):
    policy = OutboundPolicy(allowed_hosts=("localhost",))

    response = outbound_request("POST", receiver.url("/pinned", host="localhost"), content=b"{}", policy=policy)

    assert response.status_code == 200
    assert receiver.requests[-1].path == "/pinned"
    assert receiver.requests[-1].headers["host"] == f"localhost:{receiver.port}"


def test_redirects_are_not_followed(receiver):
    receiver.statuses = [302]

    response = outbound_request("POST", receiver.url(), content=b"{}", policy=OutboundPolicy(allowed_hosts=("127.0.0.1",)))

    assert response.status_code == 302
    assert len(receiver.requests) == 1
