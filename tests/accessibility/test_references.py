"""Every id that a form's ARIA and label attributes name is on the page: Django ties each
field's help text and errors to it (aria-describedby="id_<name>_helptext", "..._error"), so the
templates must render those elements with those ids."""

import re

import pytest

PAGES = [
    "/settings/organisation/",
    "/settings/users/new/",
    "/settings/role-groups/new/",
    "/settings/security/api-tokens/",
    "/settings/searches/new/",
    "/settings/shortcuts/new/",
    "/settings/business-rules/new/",
    "/settings/macros/new/",
    "/settings/workflows/",
    "/customers/new/",
    "/conversations/new/",
]
REFERENCE = re.compile(r'\b(aria-describedby|aria-labelledby|aria-controls|for)="([^"]+)"')


def dangling(html: str) -> list[str]:
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    return [
        f'{name}="{target}"'
        for name, value in REFERENCE.findall(html)
        for target in value.split()
        if target not in ids
    ]


@pytest.mark.parametrize("url", PAGES)
def test_form_references_resolve(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 200
    assert dangling(response.content.decode()) == []


@pytest.mark.parametrize(
    "url, data",
    [
        ("/settings/business-rules/new/", {"name": "", "criteria": "{", "actions": "[]"}),
        ("/customers/new/", {"name": "", "email": "not an email"}),
    ],
)
def test_references_resolve_on_a_form_with_errors(admin_client, url, data):
    html = admin_client.post(url, data).content.decode()
    assert 'aria-invalid="true"' in html
    assert dangling(html) == []
