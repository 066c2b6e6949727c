"""The web UI in a real headless Chromium (Debian's ``chromium``, driven over the DevTools pipe by
tests/web/browser.py) against a real server process: sign in, explore, repository, manifest,
organization and settings pages, copy buttons, sign out. Screenshots are saved under
``test-artifacts/web/`` (the README's pictures come from there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.live import ROOT, LiveRegistry
from tests.web.browser import Browser, chromium_path

pytestmark = [pytest.mark.live, pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")]

ARTIFACTS = ROOT / "test-artifacts" / "web"
SEED = (
    "import json; from tests.web.world import build_world; w = build_world(); "
    "print(json.dumps({'image': w.image.digest, 'index': w.index.digest, 'token': w.robot_token}))"
)


@pytest.fixture(scope="module")
def server():
    registry = LiveRegistry.create(extra_env={"MOORAGE_REGISTRY_OPEN": "false", "MOORAGE_REGISTRY_ANONYMOUS_PULL": "true"})
    try:
        registry.manage("collectstatic", "--noinput")
        seeded = json.loads(registry.manage("shell", "-c", SEED).stdout.strip().splitlines()[-1])
        registry.start(workers=1, threads=4)
        yield registry, seeded
    finally:
        registry.destroy()


def shot(browser: Browser, name: str) -> Path:
    path = browser.screenshot(ARTIFACTS / f"{name}.png")
    assert path.stat().st_size > 5000  # a rendered page, not an empty canvas
    return path


def sign_in(browser: Browser, url: str, username: str) -> None:
    browser.get(f"{url}/ui/signin")
    browser.submit(
        f"document.getElementById('id_username').value = {json.dumps(username)};"
        "document.getElementById('id_password').value = 'correct-horse-battery';"
        "document.querySelector('main form').submit()"
    )


def test_anonymous_visitor(server):
    registry, seeded = server
    with Browser() as browser:
        browser.get(f"{registry.url}/")
        assert browser.url == f"{registry.url}/ui/"
        text = browser.text()
        assert "acme/web" in text and "acme/secret" not in text
        # the stylesheet loaded: the navigation bar is dark
        assert browser.evaluate("getComputedStyle(document.querySelector('header.navbar')).backgroundColor") == "rgb(44, 44, 44)"
        shot(browser, "explore-anonymous")
        browser.get(f"{registry.url}/ui/repository/acme/secret")
        assert "Top secret" not in browser.text() and "Not found" in browser.text()
        assert browser.evaluate("document.title") != "acme/secret – Moorage"


def test_signed_in_member_walks_through_the_ui(server):
    registry, seeded = server
    with Browser() as browser:
        sign_in(browser, registry.url, "owner")
        assert browser.url == f"{registry.url}/ui/"
        assert "acme/secret" in browser.text() and "Sign out" in browser.text()
        shot(browser, "explore")

        browser.get(f"{registry.url}/ui/repository/acme/web")
        text = browser.text()
        assert f"podman pull {registry.host}/acme/web:latest" in text and "latest" in text and "multi" in text
        # copy buttons are hidden without JavaScript and shown by it
        assert browser.evaluate("[...document.querySelectorAll('button[data-copy-target]')].every(b => !b.hidden)")
        shot(browser, "repository")

        browser.submit("document.querySelector('.star-form button').click()")
        assert "Starred acme/web" in browser.text() and "Unstar" in browser.text()

        browser.get(f"{registry.url}/ui/repository/acme/web/manifest/{seeded['image']}")
        text = browser.text()
        assert "Layers" in text and "not scanned" in text and "cosign" in text
        shot(browser, "manifest")
        browser.get(f"{registry.url}/ui/repository/acme/web/manifest/{seeded['index']}")
        assert "linux/amd64" in browser.text() and "linux/arm64" in browser.text()
        shot(browser, "manifest-index")

        browser.get(f"{registry.url}/ui/organization/acme")
        text = browser.text()
        assert "docker login --username='acme+deployer'" in text and seeded["token"] not in text
        shot(browser, "organization")

        browser.get(f"{registry.url}/ui/user/owner")
        text = browser.text()
        assert "this is you" in text and "Storage and quota" in text
        shot(browser, "user")

        browser.get(f"{registry.url}/ui/settings")
        browser.submit("document.getElementById('id_title').value = 'laptop'; document.getElementById('id_title').form.submit()")
        assert "shown only this once" in browser.text()
        token = browser.evaluate("document.querySelector('#new-token code').textContent")
        assert len(token) > 20
        shot(browser, "settings-new-token")
        browser.get(f"{registry.url}/ui/settings")
        assert token not in browser.text() and "laptop" in browser.text()

        browser.submit("document.querySelector('form[action=\"/ui/signout\"]').submit()")
        assert "Sign in" in browser.text() and "acme/secret" not in browser.text()
