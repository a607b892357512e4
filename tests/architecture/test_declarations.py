"""The audit declarations (auditlog/declare.py) are the one place a section is described:
the catalog, the filters' values, History, subject links, row links and the sidebar come
from them, and the system checks refuse a model nobody declared."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from django.urls import reverse

from auditlog import catalog, checks, declare
from auditlog.declare import Audited, Events, register
from insights import history
from settings_app.models import Shortcut

ROOT = Path(__file__).resolve().parents[2]

# Sealing, verification and the retention defaults walk the sections in this order.
SECTION_ORDER = (
    "Session",
    "User",
    "Role Group",
    "API Token",
    "Export",
    "Plan",
    "Seats",
    "Search",
    "Shortcut",
    "Business Rule",
    "Organisation",
    "Support Access",
    "Workflow",
    "Macro",  # the worked example: declared by settings_app, beyond the catalog
    "Saved View",
    "Work Session",
    "Conversation",
    "Customer",
)


def test_the_sections_keep_their_order():
    assert catalog.section_names() == SECTION_ORDER


def test_the_declarations_meet_the_products_catalog():
    assert checks.spec_problems() == []
    assert catalog.section("User").redacted == ("password",)
    assert catalog.section("Organisation").properties == (
        "name",
        "time_zone",
        "heartbeat_grace_seconds",
        "retention_days",
    )


def test_a_declaration_short_of_the_catalog_fails_the_check():
    spec = {section.name: section for section in catalog.SPEC_SECTIONS}
    doctored = (
        replace(spec["Shortcut"], properties=(*spec["Shortcut"].properties, "colour")),
        replace(spec["Search"], kind="saved_search"),
        catalog.Section("Holiday", "settings", ("create",), ("date",), "holiday", kind="holiday"),
    )
    messages = checks.spec_problems(doctored)
    assert [m.id for m in messages] == ["auditlog.E012"] * 3
    assert "'Shortcut' is declared with no properties ['colour']" in messages[0].msg
    assert "kind 'search', not 'saved_search'" in messages[1].msg
    assert "section 'Holiday' (settings) is not declared" in messages[2].msg


def test_everything_derived_comes_from_the_declarations():
    assert catalog.settings_kinds() == {
        "search": "Search",
        "shortcut": "Shortcut",
        "business_rule": "Business Rule",
        "organisation": "Organisation",
        "support_access": "Support Access",
        "workflow": "Workflow",
        "macro": "Macro",
        "saved_view": "Saved View",
    }
    assert catalog.kind_subject_type("organisation") == "organization"
    assert set(history.kinds()) == {
        "user",
        "role_group",
        "search",
        "shortcut",
        "business_rule",
        "support_access",
        "conversation",
        "customer",
        "macro",
    }
    assert {s for s, kind in history.kinds().items() if kind.restorable} == {
        "search",
        "shortcut",
        "business_rule",
        "support_access",
        "macro",
    }
    assert declare.subject_pages()["shortcut"] == (Shortcut, "settings_app:shortcut_edit")
    assert [link.label for link in declare.row_links()["Work Session"]] == ["Timeline"]


def test_every_declared_page_resolves():
    for nav in declare.navigation():
        assert reverse(nav.url_name).startswith("/")
    for declaration in declare.declarations():
        if isinstance(declaration, Audited) and declaration.edit_url:
            assert reverse(declaration.edit_url, args=[1]).startswith("/")
        for link in declaration.links:
            assert reverse(link.url_name, args=[1]).startswith("/")


@pytest.mark.parametrize(
    ("declaration", "problem"),
    [
        (
            Events(section="Audit", event_type="audits", subject_type="x", actions=("create",)),
            "event type 'audits' is not one of",
        ),
        (
            Events(section="User", event_type="authorization", subject_type="x", actions=()),
            "the section is declared twice",
        ),
        (
            Events(section="Thing", event_type="customer", subject_type="x", actions=("poke",)),
            "actions ['poke'] are not in the catalog",
        ),
        (
            Audited(
                model=Shortcut,
                section="Snippet",
                event_type="settings",
                subject_type="snippet",
                kind="shortcut",
                properties=("name", "colour"),
                redacted=("secret",),
            ),
            "'colour' is not a field of the model",
        ),
    ],
)
def test_register_refuses_a_declaration_that_cannot_work(declaration, problem):
    before = catalog.section_names()
    with pytest.raises(ValueError, match="Audit declaration") as raised:
        register(declaration)
    assert problem in str(raised.value)
    assert catalog.section_names() == before


def test_register_names_every_problem_of_a_declaration():
    with pytest.raises(ValueError) as raised:
        register(
            Audited(
                model=Shortcut,
                section="Snippet",
                event_type="settings",
                subject_type="snippet",
                kind="shortcut",
                properties=("name",),
                redacted=("secret",),
            )
        )
    text = str(raised.value)
    assert "kind 'shortcut' is declared twice" in text
    assert "the model is declared twice" in text
    assert "redacted ['secret'] are not properties" in text


def test_manage_check_refuses_an_undeclared_model_and_a_plain_declared_one():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.architecture.settings_undeclared"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert (
        "undeclared.Note: (auditlog.E011) undeclared.Note is neither audited nor exempt" in output
    )
    assert "undeclared.PlainSetting: (auditlog.E010)" in output
    assert "not an AuditedModel" in output
    # The project's own apps are complete: nothing else is reported.
    assert output.count("(auditlog.E01") == 2, output
