"""Django's Content-Security-Policy on every page, with the per-request nonce the templates carry.

The browser test (tests/test_browser.py) checks that Chromium reports no violation on the admin,
the transcript and the stats page; these check the header and the nonces without a browser.
"""

import re

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from threads import repository

pytestmark = pytest.mark.django_db

PHONE = "whatsapp:+5215512345678"
NONCE_IN_HEADER = re.compile(r"'nonce-([^']+)'")


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "boss@example.com"))
    return client


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split("; ")}


def test_the_policy_allows_only_our_origin_and_the_nonce(client):
    response = client.get(reverse("admin:login"))

    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"][0] == "'self'" and directives["script-src"][1].startswith("'nonce-")
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("page", ["login", "index", "stats", "transcript", "changelist"])
def test_every_inline_style_and_script_carries_the_requests_nonce(client, staff_client, page):
    repository.save_thread_id(PHONE, "conv_csp123")
    urls = {
        "login": (client, reverse("admin:login")),
        "index": (staff_client, reverse("admin:index")),
        "stats": (staff_client, reverse("threads_stats")),
        "transcript": (staff_client, reverse("admin:threads_oathreadmap_change", args=[quote(PHONE)])),
        "changelist": (staff_client, reverse("admin:threads_oathreadmap_changelist")),
    }
    who, url = urls[page]

    response = who.get(url)
    html = response.content.decode()

    assert response.status_code == 200
    nonces = set(NONCE_IN_HEADER.findall(response.headers["Content-Security-Policy"]))
    assert len(nonces) == 1
    inline = re.findall(r"<(style|script)(?![^>]*\bsrc=)([^>]*)>", html)
    if page in ("stats", "transcript"):
        assert inline, "our pages style themselves inline"
    for tag, attributes in inline:
        assert f'nonce="{next(iter(nonces))}"' in attributes, f"<{tag}{attributes}> has no nonce"
    assert not re.search(r"<[^>]+\sstyle=", html), "style attributes are blocked by the policy"


def test_two_requests_get_different_nonces(client):
    first = policy(client.get(reverse("admin:login")))["script-src"]
    second = policy(client.get(reverse("admin:login")))["script-src"]

    assert first != second
