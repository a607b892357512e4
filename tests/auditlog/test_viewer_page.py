"""Settings > Security > Audit Log rendered by Django: access, filters, labels, diffs and paging."""

import re
from datetime import UTC, timedelta

from django.test import Client
from django.utils import timezone

from accounts.services import user_update
from auditlog import recorder
from core.context import Actor
from tests.conftest import PASSWORD

URL = "/settings/security/audit-log/"


def record(**kwargs):
    return recorder.record(**kwargs)


def test_anonymous_is_sent_to_sign_in(org):
    response = Client().get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_agent_gets_the_friendly_403_page(org, agent):
    client = Client()
    client.force_login(agent)
    response = client.get(URL)
    assert response.status_code == 403
    assert "You don’t have access to this page" in response.content.decode()


def test_admin_sees_the_settings_link_and_the_page(org, admin_client):
    home = admin_client.get("/settings/").content.decode()
    assert 'href="/settings/security/audit-log/"' in home
    response = admin_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    headers = re.findall(r'<th scope="col" class="c-[a-z]+">([^<]+)</th>', html)
    assert headers == ["Performed By", "Date", "Event", "Section", "Property", "Before", "After"]


def test_default_range_is_the_last_seven_days_in_the_org_time_zone(org, admin_client):
    org.time_zone = "Pacific/Kiritimati"  # UTC+14: its "today" is often UTC's tomorrow
    org.save()
    today = timezone.now().astimezone(org.tz).date()
    html = admin_client.get(URL).content.decode()
    assert f'name="start" value="{today - timedelta(days=6)}"' in html
    assert f'name="end" value="{today}"' in html
    assert "Times in Pacific/Kiritimati" in html


def test_rows_show_labels_local_time_and_utc_on_hover(org, admin, admin_client):
    org.time_zone = "America/New_York"
    org.save()
    when = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    record(
        section="Business Rule",
        action="update",
        subject_type="business_rule",
        subject_id=7,
        subject_name="VIP routing",
        property="enabled",
        before=True,
        after=False,
        actor=Actor("business_rule", "7", "VIP routing"),
        occurred_at=when,
    )
    record(
        section="Work Session",
        action="update",
        subject_id=admin.pk,
        subject_name="Acme Admin",
        property="status",
        before="Available",
        after="Unavailable",
        actor=Actor.system(),
        metadata={"reason": "heartbeat_lapse", "last_heartbeat": "2026-01-01T10:00:00+00:00"},
    )
    record(
        section="Work Session",
        action="assign",
        subject_id=admin.pk,
        subject_name="Acme Admin",
        property="conversation",
        after="Conversation #9",
        actor=Actor("queue_router", None, "Queue router"),
        metadata={"load_before": 2, "load_after": 3, "capacity": 2, "over_capacity": True},
    )
    record(
        section="Customer",
        action="update",
        subject_id=3,
        subject_name="Zed",
        property="name",
        before="Zed",
        after="Zed Z",
        actor=Actor("api", "4", "Zapier token"),
    )
    html = admin_client.get(URL).content.decode()
    assert "Business rule: VIP routing" in html
    assert "System (connectivity lapse)" in html
    assert "Queue router" in html and "API: Zapier token" in html
    assert "Load 2 → 3 of 2 · over capacity" in html
    local = when.astimezone(org.tz)
    utc_iso = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        f'<time datetime="{utc_iso}" title="{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC">'
        f"{local.day} {local:%b %Y, %H:%M:%S}</time>" in html
    )


def test_json_values_are_pretty_printed_with_changed_lines_marked(org, admin_client):
    before = {
        "match": "all",
        "conditions": [{"field": "priority", "operator": "equals", "value": "low"}],
    }
    after = {
        "match": "all",
        "conditions": [{"field": "priority", "operator": "equals", "value": "high"}],
    }
    record(
        section="Business Rule",
        action="update",
        subject_type="business_rule",
        subject_id=1,
        subject_name="VIP",
        property="criteria",
        before=before,
        after=after,
    )
    html = admin_client.get(URL).content.decode()
    assert '<del class="line">      "value": "low"</del>' in html
    assert '<ins class="line">      "value": "high"</ins>' in html
    assert '<span class="line">  "match": "all",</span>' in html
    assert "(1 changed line)" in html


def test_each_sub_filter_narrows_the_rows(org, admin, agent, admin_client):
    user_update(
        user=agent,
        name="Ann Agent",
        email=agent.email,
        phone="555",
        role_group=agent.role_group,
        is_active=True,
    )
    record(
        section="Search",
        action="create",
        subject_type="search",
        subject_id=1,
        subject_name="Open tickets",
        property="name",
        after="Open tickets",
        actor=Actor.for_user(agent),
    )
    record(
        section="Shortcut",
        action="create",
        subject_type="shortcut",
        subject_id=2,
        subject_name="Greeting",
        property="name",
        after="Greeting",
        actor=Actor.for_user(admin),
    )
    record(
        section="Work Session",
        action="session_start",
        subject_id=agent.pk,
        subject_name="Ann Agent",
        actor=Actor.for_user(agent),
    )
    record(
        section="Conversation",
        action="update",
        subject_id=11,
        subject_name="Refund",
        property="status",
        before="open",
        after="done",
    )
    record(
        section="Conversation",
        action="update",
        subject_id=12,
        subject_name="Lost parcel",
        property="status",
        before="open",
        after="done",
    )

    def sections(query: str) -> list[str]:
        html = admin_client.get(URL + "?" + query).content.decode()
        return re.findall(r'data-section="([^"]+)"', html)

    assert set(sections(f"event_type=authorization&user={agent.pk}")) == {"User"}
    assert sections("event_type=settings&kind=search") == ["Search"]
    assert sections(f"event_type=settings&performed_by={admin.pk}") == ["Shortcut"]
    assert sections(f"event_type=work_session&agent={agent.pk}") == ["Work Session"]
    html = admin_client.get(URL + "?event_type=conversation&subject_id=12").content.decode()
    assert "Lost parcel" in html and "Refund" not in html


def test_invalid_parameters_show_a_message_not_a_500(org, admin_client):
    response = admin_client.get(URL + "?start=yesterday&event_type=nope&page_size=501")
    assert response.status_code == 400
    html = response.content.decode()
    assert "These filters could not be applied" in html
    for param in ("start", "event_type", "page_size"):
        assert f"<code>{param}</code>" in html
    tampered = admin_client.get(URL + "?cursor=abc")
    assert tampered.status_code == 400 and "<code>cursor</code>" in tampered.content.decode()


SUBJECT = r'class="subject">(?:<a [^>]*>)?([^<· ]+)'


def test_newer_and_older_pages_walk_the_log_by_cursor(org, admin_client):
    now = timezone.now()
    for n in range(5):
        record(
            section="Customer",
            action="create",
            subject_id=n,
            subject_name=f"C{n}",
            occurred_at=now - timedelta(minutes=n),
        )
    first = admin_client.get(URL + "?page_size=2&event_type=customer").content.decode()
    assert re.findall(SUBJECT, first) == ["C0", "C1"]
    older = re.search(r'rel="next" href="\?([^"]+)"', first)[1].replace("&amp;", "&")
    second = admin_client.get(URL + "?" + older).content.decode()
    assert re.findall(SUBJECT, second) == ["C2", "C3"]
    newer = re.search(r'rel="prev" href="\?([^"]+)"', second)[1].replace("&amp;", "&")
    back = admin_client.get(URL + "?" + newer).content.decode()
    assert re.findall(SUBJECT, back) == ["C0", "C1"]


def test_export_links_carry_exactly_the_filters(org, admin_client):
    html = admin_client.get(
        URL + "?event_type=settings&kind=shortcut&start=2026-01-01"
    ).content.decode()
    assert (
        'href="/api/v1/audit-events/export.csv?start=2026-01-01&amp;event_type=settings&amp;kind=shortcut"'
        in html
    )


def test_all_events_for_an_object_link_and_subject_link(org, agent, admin_client):
    user_update(
        user=agent,
        name="Ann B",
        email=agent.email,
        phone="",
        role_group=agent.role_group,
        is_active=True,
    )
    html = admin_client.get(URL + "?event_type=authorization").content.decode()
    assert f'href="/settings/users/{agent.pk}/"' in html
    assert f'href="?subject_type=user&amp;subject_id={agent.pk}"' in html
    scoped = admin_client.get(URL + f"?subject_type=user&subject_id={agent.pk}").content.decode()
    assert "subject_type = user" in scoped
    assert set(re.findall(r'data-section="([^"]+)"', scoped)) == {"User"}


def test_a_password_change_shows_redacted_never_the_password(org, admin_client):
    from accounts.models import User
    from accounts.services import user_set_password

    new_password = "Correct-Horse-Battery-9"  # noqa: S105
    user_set_password(user=User.objects.get(email="admin@acme.test"), password=new_password)
    admin_client.force_login(User.objects.get(email="admin@acme.test"))
    html = admin_client.get(URL + "?property=password").content.decode()
    rows = re.findall(r"<tr[^>]*>.*?</tr>", html.split("</thead>")[1], re.S)
    assert rows and all("assword" in row and "[redacted]" in row for row in rows), rows[:1]
    assert new_password not in html and PASSWORD not in html


def test_a_deleted_subject_keeps_its_rows_but_loses_its_link(org, admin_client):
    from accounts.models import RoleGroup
    from accounts.services import user_create, user_delete

    bob = user_create(
        email="bob@acme.test",
        password=None,
        name="Bob",
        role_group=RoleGroup.objects.get(name="Agent"),
    )
    bob_id = bob.pk
    user_delete(user=bob)
    html = admin_client.get(URL + f"?subject_type=user&subject_id={bob_id}").content.decode()
    assert re.findall(r'data-action="([^"]+)"', html)[0] == "delete"
    assert f'href="/settings/users/{bob_id}/"' not in html
    assert f'href="?subject_type=user&amp;subject_id={bob_id}"' in html


def test_another_organisations_events_never_show(org, other_org, admin_client):
    from core.tenancy import tenant

    with tenant(other_org):
        record(section="Customer", action="create", subject_id=1, subject_name="Globex secret")
    record(section="Customer", action="create", subject_id=2, subject_name="Acme customer")
    html = admin_client.get(URL + "?event_type=customer").content.decode()
    assert "Acme customer" in html and "Globex secret" not in html
    assert "Globex secret" not in admin_client.get(URL + "?q=secret").content.decode()


def test_a_row_naming_another_organisations_object_gets_no_link(org, other_org, admin_client):
    """Subject links are looked up within the organisation (one UNION query for every type
    on the page): an id that exists only in another organisation never becomes a link."""
    from conversations.services import customer_create
    from core.tenancy import tenant
    from settings_app.models import Shortcut

    with tenant(other_org):
        theirs = customer_create(name="Globex customer", email="g@example.com", tags=[])
        their_shortcut = Shortcut.objects.create(name="Theirs", text="t")
    ours = customer_create(name="Acme customer", email="a@example.com", tags=[])
    record(section="Customer", action="update", subject_id=theirs.pk, subject_name="Forged")
    record(section="Shortcut", action="update", subject_id=their_shortcut.pk, subject_name="Forged")
    html = admin_client.get(URL).content.decode()
    assert f'href="/customers/{ours.pk}/"' in html
    assert f'href="/customers/{theirs.pk}/"' not in html
    assert f"/settings/shortcuts/{their_shortcut.pk}/" not in html
    assert html.count('class="subject">Forged ') == 2  # the rows show, without links
