"""Object history and "as of": each kind of object changed through its real services, step by
step in simulated time; the state rebuilt from the audit rows at every moment equals the state
the object had then; criteria and actions are diffed structurally; restore is an ordinary update."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import RoleGroup
from accounts.permissions import ADMINISTRATOR, AGENT
from accounts.services import user_create, user_update
from auditlog.models import AuditEvent
from conversations import services as conversations
from core.context import Actor
from core.tenancy import tenant
from insights import history
from insights.history import Moment
from settings_app import services as settings
from settings_app.models import BusinessRule
from tests.conftest import PASSWORD, audit_rows, compact
from tests.insights.helpers import at, attributes

C1 = {"match": "all", "conditions": [{"field": "priority", "operator": "equals", "value": "high"}]}
C2 = {
    "match": "all",
    "conditions": [
        {"field": "priority", "operator": "equals", "value": "high"},
        {"field": "customer_tags", "operator": "contains", "value": "vip"},
    ],
}
C3 = {
    "match": "any",
    "conditions": [
        {"field": "priority", "operator": "equals", "value": "urgent"},
        {"field": "queue", "operator": "equals", "value": "billing"},
    ],
}
A1 = [{"type": "set_priority", "value": "urgent"}]
A2 = [{"type": "set_priority", "value": "urgent"}, {"type": "add_tag", "value": "vip"}]

T0 = timezone.now().replace(microsecond=0) - timedelta(days=2)


def _business_rule(org: Any) -> list[Callable]:
    return [
        lambda: settings.business_rule_create(name="VIP routing", criteria=C1, actions=A1),
        lambda rule: settings.business_rule_update(rule=rule, criteria=C2),
        lambda rule: settings.business_rule_update(rule=rule, name="VIP first", actions=A2),
        lambda rule: settings.business_rule_update(rule=rule, criteria=C3, enabled=False),
        lambda rule: settings.business_rule_update(rule=rule, position=5),
    ]


def _search(org: Any) -> list[Callable]:
    return [
        lambda: settings.search_create(name="Urgent", criteria=C1, columns=["subject", "status"]),
        lambda search: settings.search_update(search=search, criteria=C2),
        lambda search: settings.search_update(
            search=search, columns=["subject", "priority", "tags"]
        ),
        lambda search: settings.search_update(search=search, name="Urgent VIP", criteria=C3),
    ]


def _shortcut(org: Any) -> list[Callable]:
    return [
        lambda: settings.shortcut_create(name="Hello", text="Hi there!"),
        lambda shortcut: settings.shortcut_update(shortcut=shortcut, category="Openers"),
        lambda shortcut: settings.shortcut_update(shortcut=shortcut, text="Hello, and thanks!"),
        lambda shortcut: settings.shortcut_update(shortcut=shortcut, category=""),
    ]


def _support_access(org: Any) -> list[Callable]:
    # Expiries relative to the real clock too: the services refuse an expiry in the past.
    soon = timezone.now() + timedelta(days=7)
    return [
        lambda: settings.support_access_grant(access_level="read_only", expires_at=soon),
        lambda grant: settings.support_access_update(grant=grant, access_level="full"),
        lambda grant: settings.support_access_update(
            grant=grant, expires_at=soon + timedelta(days=3)
        ),
        lambda grant: settings.support_access_revoke(grant=grant),
    ]


def _user(org: Any) -> list[Callable]:
    return [
        lambda: user_create(
            email="kim@acme.test",
            password=PASSWORD,
            name="Kim",
            role_group=RoleGroup.objects.get(name=AGENT),
        ),
        lambda user: user_update(user=user, phone="+44 20 7946 0001"),
        lambda user: user_update(user=user, name="Kim Lee"),
        lambda user: user_update(user=user, role_group=RoleGroup.objects.get(name=ADMINISTRATOR)),
        lambda user: user_update(user=user, is_active=False),
    ]


def _customer(org: Any) -> list[Callable]:
    return [
        lambda: conversations.customer_create(name="Grace", email="grace@example.com"),
        lambda customer: conversations.customer_update(customer=customer, tags=["vip"]),
        lambda customer: conversations.customer_update(customer=customer, phone="+1 555 0100"),
        lambda customer: conversations.customer_update(customer=customer, email="g@example.com"),
    ]


def _conversation(org: Any) -> list[Callable]:
    customer = conversations.customer_create(name="Ada", email="ada@example.com")
    agent = user_create(
        email="sam@acme.test",
        password=PASSWORD,
        name="Sam",
        role_group=RoleGroup.objects.get(name=AGENT),
    )
    return [
        lambda: conversations.conversation_create(customer=customer, subject="Refund"),
        lambda c: conversations.conversation_update(
            conversation=c, priority="high", tags=["refund"]
        ),
        lambda c: conversations.conversation_assign(conversation=c, assignee=agent),
        lambda c: conversations.conversation_update(conversation=c, status="done"),
    ]


SCRIPTS = {
    "business_rule": _business_rule,
    "search": _search,
    "shortcut": _shortcut,
    "support_access": _support_access,
    "user": _user,
    "customer": _customer,
    "conversation": _conversation,
}


def run_script(org: Any, admin: Any, subject_type: str) -> tuple[Any, list[Any], list[dict]]:
    """Run the kind's steps ten minutes apart; return the object, the step times and the
    object's saved state (re-read from the database) after each step."""
    kind = history.kind_of(subject_type)
    steps = SCRIPTS[subject_type](org)
    times, snapshots = [], []
    obj = None
    for n, step in enumerate(steps):
        moment = T0 + timedelta(minutes=10 * n)
        with at(moment), tenant(org, actor=Actor.for_user(admin)):
            obj = step() if obj is None else step(obj) or obj
        obj = kind.model.objects.get(pk=obj.pk)
        times.append(moment)
        snapshots.append(history.current_state(kind, obj))
    return obj, times, snapshots


@pytest.mark.parametrize("subject_type", sorted(SCRIPTS))
def test_as_of_state_equals_the_saved_state_at_every_moment(org, admin, subject_type):
    kind = history.kind_of(subject_type)
    obj, times, snapshots = run_script(org, admin, subject_type)
    rows = history.state_events(org.pk, kind, obj.pk)
    current = history.current_state(kind, obj)
    assert len({str(e.change_id) for e in rows}) == len(times)  # one change per step

    before = history.state_at(
        rows, kind.properties, Moment(times[0] - timedelta(seconds=1)), current
    )
    assert before.status == history.NOT_CREATED

    for n, (moment, saved) in enumerate(zip(times, snapshots, strict=True)):
        for probe in (moment, moment + timedelta(minutes=5)):
            state = history.state_at(rows, kind.properties, Moment(probe), current)
            assert state.status == history.EXISTS
            assert state.values == saved, f"step {n} at {probe}"
        # Just after the step's own rows, by event id.
        last = max(e.pk for e in rows if e.occurred_at == moment)
        state = history.state_at(rows, kind.properties, Moment(moment, last), current)
        assert state.values == saved
    assert snapshots[-1] == current
    assert snapshots[0] != snapshots[-1]


def test_state_is_rebuilt_without_the_creation_rows(org, admin):
    """Past the log's retention the creation rows are gone: earlier values come from the
    `before` of later changes, and never-changed ones from the object as it is now."""
    kind = history.kind_of("business_rule")
    obj, times, snapshots = run_script(org, admin, "business_rule")
    rows = [e for e in history.state_events(org.pk, kind, obj.pk) if e.action != "create"]
    current = history.current_state(kind, obj)
    for moment, saved in zip(times, snapshots, strict=True):
        state = history.state_at(rows, kind.properties, Moment(moment), current)
        assert state.values == saved
    first = history.state_at(rows, kind.properties, Moment(times[0]), current)
    assert first.properties["criteria"].source == history.REPLACED_LATER
    assert first.properties["position"].source == history.REPLACED_LATER


def test_deleted_object_keeps_its_history(org, admin, admin_client):
    kind = history.kind_of("business_rule")
    obj, times, snapshots = run_script(org, admin, "business_rule")
    pk = obj.pk
    with at(times[-1] + timedelta(minutes=10)), tenant(org, actor=Actor.for_user(admin)):
        settings.business_rule_delete(rule=obj)
    rows = history.state_events(org.pk, kind, pk)
    after = history.state_at(rows, kind.properties, Moment(times[-1] + timedelta(minutes=11)), None)
    assert after.status == history.DELETED
    assert after.values == snapshots[-1]  # the last values it had
    state = history.state_at(rows, kind.properties, Moment(times[1]), None)
    assert state.status == history.EXISTS and state.values == snapshots[1]

    url = f"/settings/security/audit-log/history/business_rule/{pk}/"
    page = admin_client.get(url, {"at": (times[1] + timedelta(minutes=1)).isoformat()})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="deleted-note"' in html
    assert "Restore these values" not in html
    assert admin_client.post(url + "restore/", {"at": times[1].isoformat()}).status_code == 404


def _history_url(subject_type: str, pk: int) -> str:
    return f"/settings/security/audit-log/history/{subject_type}/{pk}/"


def test_history_page_lists_changes_and_compares_structurally(org, admin, admin_client):
    obj, times, snapshots = run_script(org, admin, "business_rule")
    url = _history_url("business_rule", obj.pk)

    page = admin_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "History of business rule “VIP first”" in html
    # Five saves, newest first, each with a link to the state just after it.
    change_ids = attributes(html, r'data-change-id="', "data-change-id")
    assert len(change_ids) == 5
    assert html.count('class="state-link"') == 5
    assert 'id="as-of"' not in html

    # As of the second step (criteria C2, actions A1), beside now (criteria C3, actions A2).
    page = admin_client.get(
        url, {"at": (times[1] + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")}
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert attributes(html, r'data-changed="true"', "data-property") == [
        "name",
        "enabled",
        "criteria",
        "actions",
        "position",
    ]
    kinds = attributes(html, r'data-kind="', "data-kind")
    # Criteria: the match mode, the priority condition changed, a queue condition added, the
    # customer-tags condition removed; actions: an add-tag action added.
    assert kinds == ["changed", "changed", "added", "removed", "added"]
    assert "<ins>Queue equals &quot;billing&quot;</ins>" in html
    assert "Match changed" in html
    assert "All conditions must match" in html and "Any condition may match" in html
    assert "<del>Priority equals &quot;high&quot;</del>" in html
    assert "<ins>Priority equals &quot;urgent&quot;</ins>" in html
    assert "<del>Customer tags contains &quot;vip&quot;</del>" in html  # removed since
    assert "<ins>Add tag: vip</ins>" in html  # action added since
    assert "Restore these values" in html
    assert "5 of 5 properties differ from now." in html


def test_restore_records_an_ordinary_update_by_the_administrator(org, admin, admin_client):
    obj, times, snapshots = run_script(org, admin, "business_rule")
    kind = history.kind_of("business_rule")
    rows = history.state_events(org.pk, kind, obj.pk)
    second = max(e.pk for e in rows if e.occurred_at == times[1])
    count = AuditEvent.objects.for_org(org.pk).count()

    response = admin_client.post(
        _history_url("business_rule", obj.pk) + "restore/", {"event": str(second)}
    )
    assert response.status_code == 302
    rule = BusinessRule.objects.get(pk=obj.pk)
    assert history.current_state(kind, rule) == snapshots[1]

    new = audit_rows(org, section="Business Rule")[-5:]
    assert AuditEvent.objects.for_org(org.pk).count() == count + 5
    assert compact(new, "action", "property", "before", "after", "actor_type", "actor_id") == [
        ("update", "name", "VIP first", "VIP routing", "user", str(admin.pk)),
        ("update", "enabled", False, True, "user", str(admin.pk)),
        ("update", "criteria", C3, C2, "user", str(admin.pk)),
        ("update", "actions", A2, A1, "user", str(admin.pk)),
        ("update", "position", 5, 0, "user", str(admin.pk)),
    ]
    assert len({row["change_id"] for row in new}) == 1
    assert {row["ip_address"] for row in new} == {"203.0.113.9"}

    # Restoring the same moment again changes nothing and records nothing.
    response = admin_client.post(
        _history_url("business_rule", obj.pk) + "restore/", {"event": str(second)}, follow=True
    )
    assert "Nothing to restore" in response.content.decode()
    assert AuditEvent.objects.for_org(org.pk).count() == count + 5


def test_restore_only_sets_what_differs(org, admin, admin_client):
    obj, times, snapshots = run_script(org, admin, "shortcut")
    count = AuditEvent.objects.for_org(org.pk).count()
    # As of the third step: category "Openers" (now empty); text is the same as now.
    response = admin_client.post(
        _history_url("shortcut", obj.pk) + "restore/",
        {"at": (times[2] + timedelta(minutes=1)).isoformat()},
    )
    assert response.status_code == 302
    assert AuditEvent.objects.for_org(org.pk).count() == count + 1
    last = audit_rows(org, section="Shortcut")[-1:]
    assert compact(last, "action", "property", "before", "after", "actor_name") == [
        ("update", "category", "", "Openers", "Acme Admin")
    ]


def test_restore_refused_by_the_service_changes_nothing(org, admin, admin_client):
    obj, times, snapshots = run_script(org, admin, "business_rule")
    with tenant(org, actor=Actor.for_user(admin)):
        settings.business_rule_create(
            name="VIP routing", criteria=C1, actions=A1
        )  # takes the old name
    count = AuditEvent.objects.for_org(org.pk).count()
    response = admin_client.post(
        _history_url("business_rule", obj.pk) + "restore/", {"at": times[0].isoformat()}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="restore-problem"' in html and "already exists" in html
    assert AuditEvent.objects.for_org(org.pk).count() == count
    assert BusinessRule.objects.get(pk=obj.pk).name == "VIP first"


def test_restoring_a_past_support_access_expiry_is_refused_clearly(org, admin, admin_client):
    with at(T0), tenant(org, actor=Actor.for_user(admin)):
        grant = settings.support_access_grant(
            access_level="read_only", expires_at=T0 + timedelta(hours=1)
        )
    with tenant(org, actor=Actor.for_user(admin)):
        settings.support_access_update(grant=grant, expires_at=timezone.now() + timedelta(days=2))
    response = admin_client.post(
        _history_url("support_access", grant.pk) + "restore/",
        {"at": (T0 + timedelta(minutes=1)).isoformat()},
    )
    assert response.status_code == 400
    assert "The expiry must be in the future." in response.content.decode()


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"at": "yesterday"}, "at"),
        ({"at": "2025-13-45T10:00"}, "at"),
        ({"event": "abc"}, "event"),
        ({"event": "99999999999999999999999"}, "event"),
    ],
)
def test_bad_moments_get_a_clear_400(org, admin, admin_client, params, param):
    obj, _, _ = run_script(org, admin, "shortcut")
    response = admin_client.get(_history_url("shortcut", obj.pk), params)
    assert response.status_code == 400
    assert f"<code>{param}</code>" in response.content.decode()


def test_an_event_of_another_object_is_not_a_moment_of_this_one(org, admin, admin_client):
    first, _, _ = run_script(org, admin, "shortcut")
    with tenant(org, actor=Actor.for_user(admin)):
        other = settings.shortcut_create(name="Bye", text="Goodbye")
    other_event = (
        AuditEvent.objects.for_org(org.pk)
        .filter(subject_id=str(other.pk), section="Shortcut")
        .first()
    )
    response = admin_client.get(_history_url("shortcut", first.pk), {"event": other_event.pk})
    assert response.status_code == 400
    assert "not an event of this object" in response.content.decode()
