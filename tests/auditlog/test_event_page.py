"""Settings > Security > Audit Log > one event: every field, Before/After side by side, the
change's other rows, its seal, its raw JSON and its links; 404 for anything not this
organisation's event, 403 without audit.view; hostile values escaped."""

import html
import io
import json
import re
from datetime import UTC, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.test import Client

from auditlog import recorder
from auditlog.models import AuditEvent
from core import context
from core.context import Actor
from core.tenancy import tenant
from settings_app import services

IP = "203.0.113.9"
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
REQUEST_ID = "req-7f3a9c"
AUDIT_LOG = "/settings/security/audit-log/"

CRITERIA_BEFORE = {
    "match": "all",
    "conditions": [
        {"field": "customer_tags", "operator": "contains", "value": "vip"},
        {"field": "status", "operator": "equals", "value": "snoozed"},
    ],
}
CRITERIA_AFTER = {
    "match": "all",
    "conditions": [
        {"field": "customer_tags", "operator": "contains", "value": "vip"},
        {"field": "status", "operator": "equals", "value": "open"},
    ],
}
ACTIONS_BEFORE = [{"type": "set_priority", "value": "high"}]
ACTIONS_AFTER = [{"type": "set_priority", "value": "urgent"}, {"type": "add_tag", "value": "vip"}]


def page_url(event_id) -> str:
    return f"{AUDIT_LOG}events/{event_id}/"


class _Elements(HTMLParser):
    """The text (entities decoded) and attributes of every element carrying an id or a
    data-field, and every link; enough to read a page without an HTML library."""

    VOID = frozenset({"br", "img", "input", "link", "meta", "hr", "wbr"})
    # Read apart from their neighbours, as a browser lays them out.
    BLOCKS = frozenset({"div", "dl", "dt", "dd", "h1", "h2", "h3", "p", "li", "tr", "th", "td"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, str | None]] = []
        self.texts: dict[str, list[str]] = {}
        self.attrs: dict[str, dict[str, str]] = {}
        self.links: list[tuple[str, dict[str, str]]] = []
        self._link: dict[str, str] | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag in self.BLOCKS:
            self.handle_data(" ")
        if tag == "a":
            self._link, self._link_text = attrs, []
        if tag in self.VOID:
            if tag == "br":
                self.handle_data(" ")
            return
        key = attrs.get("id") or (f"field:{attrs['data-field']}" if "data-field" in attrs else None)
        if key is not None:
            self.texts[key] = []
            self.attrs[key] = attrs
        self.open.append((tag, key))

    def handle_endtag(self, tag):
        if tag in self.BLOCKS:
            self.handle_data(" ")
        if tag == "a" and self._link is not None:
            self.links.append(("".join(self._link_text).strip(), self._link))
            self._link = None
        while self.open:
            opened, _ = self.open.pop()
            if opened == tag:
                break

    def handle_data(self, data):
        for _, key in self.open:
            if key is not None:
                self.texts[key].append(data)
        if self._link is not None:
            self._link_text.append(data)

    def text(self, key: str) -> str:
        return " ".join("".join(self.texts[key]).split())

    def link(self, label: str) -> str:
        (href,) = [attrs["href"] for text, attrs in self.links if text == label]
        return href


def parse(body: str) -> _Elements:
    parser = _Elements()
    parser.feed(body)
    return parser


def get_page(client: Client, event_id) -> tuple[str, _Elements]:
    response = client.get(page_url(event_id))
    assert response.status_code == 200, response.content[:500]
    body = response.content.decode()
    return body, parse(body)


def org_events(org, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_org(org.pk).filter(**filters).order_by("id"))


@pytest.fixture
def rule_change(org, admin):
    """A rule created, then renamed with new criteria and actions in one save, by the
    Administrator from a browser: the update is one change of three rows."""
    org.time_zone = "Europe/Paris"
    org.save()
    with context.use(
        actor=Actor.for_user(admin), ip_address=IP, user_agent=UA, request_id=REQUEST_ID
    ):
        rule = services.business_rule_create(
            name="VIP", criteria=CRITERIA_BEFORE, actions=ACTIONS_BEFORE
        )
        services.business_rule_update(
            rule=rule, name="VIP routing", criteria=CRITERIA_AFTER, actions=ACTIONS_AFTER
        )
    update = {
        event.property: event
        for event in org_events(org, subject_id=str(rule.pk), section="Business Rule")
        if event.action == "update"
    }
    assert set(update) == {"name", "criteria", "actions"}
    return rule, update


def test_the_page_shows_every_field_of_the_record(org, admin, admin_client, rule_change):
    rule, update = rule_change
    event = update["criteria"]
    body, page = get_page(admin_client, event.pk)

    assert "<title>Update · Business Rule · VIP routing · Audit Log · Auditdesk</title>" in body
    assert page.text("event-title") == "Update · Business Rule · VIP routing"
    local = event.occurred_at.astimezone(org.tz)
    utc = event.occurred_at.astimezone(UTC)
    assert page.text("field:id") == str(event.pk)
    assert page.text("field:occurred_at") == (
        f"{local.day} {local:%b %Y, %H:%M:%S} (Europe/Paris) {utc:%Y-%m-%d %H:%M:%S.%f} UTC"
    )
    assert f'<time datetime="{utc:%Y-%m-%dT%H:%M:%S.%f}Z">' in body
    assert page.text("field:event_type") == "Settings settings"
    assert page.text("field:action") == "Update update"
    assert page.text("field:section") == "Business Rule"
    assert page.text("field:property") == "Criteria criteria"
    assert page.text("field:performed_by") == (
        f"Acme Admin Type User user Id {admin.pk} Name Acme Admin"
    )
    assert page.text("field:subject") == (
        f"VIP routing Type business_rule Id {rule.pk} Name VIP routing"
    )
    assert page.attrs["subject-link"]["href"] == f"/settings/business-rules/{rule.pk}/"
    assert page.text("field:change_id") == str(event.change_id)
    assert page.text("field:ip_address") == IP
    assert page.text("field:user_agent") == UA
    assert page.text("field:request_id") == REQUEST_ID
    assert page.text("field:metadata") == "none"
    assert page.text("field:sealed").startswith("Not yet")
    assert page.text("field:verified") == "Not yet."


def test_times_read_in_the_viewers_chosen_zone(org, admin, admin_client, rule_change):
    admin.display_time_zone = "Asia/Tokyo"
    admin.save(update_fields=["display_time_zone"])
    _, update = rule_change
    event = update["criteria"]
    _, page = get_page(admin_client, event.pk)

    tokyo = event.occurred_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert page.text("field:occurred_at").startswith(
        f"{tokyo.day} {tokyo:%b %Y, %H:%M:%S} (Asia/Tokyo) "
    )
    # The Audit Log's form reads times of day in the organisation's zone: its links say so.
    around = parse_qs(urlsplit(page.link("Events 10 minutes either side")).query)
    paris = event.occurred_at.astimezone(org.tz).isoformat()[-6:]  # "+01:00" or "+02:00"
    assert around["start"][0].endswith(paris) and around["end"][0].endswith(paris)


def test_before_and_after_are_side_by_side_in_full_with_changed_lines_marked(
    org, admin_client, rule_change
):
    _, update = rule_change
    body, page = get_page(admin_client, update["criteria"].pk)

    before, after = page.text("before"), page.text("after")
    assert before.startswith("Before {") and after.startswith("After {")
    # Every line of both values, none cut short.
    assert '"value": "vip"' in before and '"value": "snoozed"' in before
    assert '"value": "vip"' in after and '"value": "open"' in after
    section = body[body.index('id="values"') : body.index('id="record"')]
    removed = [html.unescape(t) for t in re.findall(r'<del class="line">([^<]*)</del>', section)]
    added = [html.unescape(t) for t in re.findall(r'<ins class="line">([^<]*)</ins>', section)]
    assert removed == ['      "value": "snoozed"']
    assert added == ['      "value": "open"']
    assert page.text("marks-legend") == "Changed lines are marked: removed, added."

    # A text value is shown whole, the words that changed marked.
    body, page = get_page(admin_client, update["name"].pk)
    assert page.text("before") == "Before VIP" and page.text("after") == "After VIP routing"
    assert '<pre class="value-full">VIP<ins> routing</ins></pre>' in body
    assert page.text("marks-legend") == "Changed words are marked: removed, added."


def test_the_change_lists_its_rows_each_linked_and_this_one_current(org, admin_client, rule_change):
    _, update = rule_change
    body, page = get_page(admin_client, update["actions"].pk)

    table = body[
        body.index('id="change-table"') : body.index("</table>", body.index("change-table"))
    ]
    ids = [int(i) for i in re.findall(r'<tr data-event-id="(\d+)"', table)]
    # Exactly the update's three rows, in the order they were written; not the create's.
    assert ids == sorted(event.pk for event in update.values())
    links = {text: attrs for text, attrs in page.links if attrs["href"] in map(page_url, ids)}
    assert {text: attrs["href"] for text, attrs in links.items()} == {
        "Name": page_url(update["name"].pk),
        "Criteria": page_url(update["criteria"].pk),
        "Actions": page_url(update["actions"].pk),
    }
    assert [text for text, attrs in links.items() if attrs.get("aria-current") == "true"] == [
        "Actions"
    ]
    # Each row's cells show where its value changed.
    assert "VIP<ins> routing</ins>" in table and '<ins>"value": "open"</ins>' in table
    assert page.text("change").startswith(
        f"This change 3 rows written together (change {update['actions'].change_id})."
    )


def test_links_lead_to_the_history_and_to_the_log_around_the_event(
    org, admin, admin_client, rule_change
):
    rule, update = rule_change
    event = update["criteria"]
    _, page = get_page(admin_client, event.pk)

    history = page.link("History of this business rule")
    assert history == f"{AUDIT_LOG}history/business_rule/{rule.pk}/"
    assert admin_client.get(history).status_code == 200
    state = page.link("Its state just after this event")
    assert state == f"{history}?event={event.pk}"
    assert admin_client.get(state).status_code == 200

    def query(url):
        parts = urlsplit(url)
        assert parts.path == AUDIT_LOG
        return {name: values[0] for name, values in parse_qs(parts.query).items()}

    same_object = page.link("All events for this object")
    assert query(same_object) == {"subject_type": "business_rule", "subject_id": str(rule.pk)}
    performer = page.link("Other events by Acme Admin")
    assert query(performer) == {"actor_type": "user", "performed_by": str(admin.pk)}
    around = page.link("Events 10 minutes either side")
    local = event.occurred_at.astimezone(org.tz).replace(microsecond=0)
    assert query(around) == {
        "start": (local - timedelta(minutes=10)).isoformat(),
        "end": (local + timedelta(minutes=10)).isoformat(),
    }
    # Each filtered view really is accepted by the Audit Log and holds this event.
    for url in (same_object, performer, around):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert f'data-event-id="{event.pk}"' in response.content.decode(), url


def test_the_audit_logs_link_to_an_event_opens_its_page(org, admin_client, rule_change):
    _, update = rule_change
    log = admin_client.get(AUDIT_LOG).content.decode()
    linked = {int(pk) for pk in re.findall(rf'href="{AUDIT_LOG}events/(\d+)/"', log)}
    (update_link,) = linked & {event.pk for event in update.values()}  # one per change
    _, page = get_page(admin_client, update_link)
    assert page.text("event-title") == "Update · Business Rule · VIP routing"


def test_the_raw_json_is_the_apis_record_of_the_event(org, admin_client, rule_change):
    _, update = rule_change
    event = update["criteria"]
    body, page = get_page(admin_client, event.pk)

    api_url = f"/api/v1/audit-events/{event.pk}/"
    assert page.attrs["api-link"]["href"] == api_url
    raw = json.loads(page.text("raw-json"))
    api = admin_client.get(api_url, HTTP_ACCEPT="application/json")
    assert api.status_code == 200
    assert raw == api.json()
    assert raw["before"] == CRITERIA_BEFORE and raw["after"] == CRITERIA_AFTER


def test_a_failed_sign_in_shows_its_reason_the_email_tried_and_an_unknown_performer(
    org, admin, admin_client
):
    attacker = Client(REMOTE_ADDR="185.220.101.47", HTTP_USER_AGENT="python-requests/2.31")
    response = attacker.post(
        "/accounts/login/", {"username": "admin@acme.test", "password": "not-the-password"}
    )
    assert response.status_code == 200
    (event,) = org_events(org, action="login_failed")
    body, page = get_page(admin_client, event.pk)

    assert page.text("event-title") == "Login failed · Session · Acme Admin"
    assert page.text("event-summary").endswith("· Wrong password · Tried: admin@acme.test")
    assert page.text("field:performed_by") == (
        "Unknown (not signed in) Type Anonymous anonymous Id none Name Unknown"
    )
    assert page.text("field:metadata") == "email_tried admin@acme.test reason wrong_password"
    assert page.text("field:ip_address") == "185.220.101.47"
    assert page.text("field:user_agent") == "python-requests/2.31"
    assert page.text("before") == "Before (empty)" and page.text("after") == "After (empty)"
    assert page.link("Other events performed by “Anonymous”") == (
        f"{AUDIT_LOG}?actor_type=anonymous"
    )
    assert page.link("History of this user") == f"{AUDIT_LOG}history/user/{admin.pk}/"


def test_another_organisations_event_is_not_found(org, other_org, admin_client, rule_change):
    with tenant(other_org):
        services.business_rule_create(
            name="Globex rule", criteria={}, actions=[{"type": "add_tag", "value": "x"}]
        )
        theirs = org_events(other_org, section="Business Rule")[0]

    response = admin_client.get(page_url(theirs.pk))
    assert response.status_code == 404
    assert "Globex rule" not in response.content.decode()


@pytest.mark.parametrize(
    "event_id",
    ["abc", "12abc", "-1", "0", "１２", str(2**63), str(2**63 - 1), "9" * 40, "1e3", "%20"],
)
def test_an_id_that_is_not_one_of_ours_is_not_found(org, admin_client, rule_change, event_id):
    assert admin_client.get(page_url(event_id)).status_code == 404


def test_only_people_with_audit_view_may_see_an_event(org, agent, rule_change):
    _, update = rule_change
    url = page_url(update["name"].pk)
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/?next=")
    client = Client()
    client.force_login(agent)
    response = client.get(url)
    assert response.status_code == 403
    assert "VIP routing" not in response.content.decode()


def test_hostile_values_are_shown_as_text_never_as_markup(org, admin_client):
    script = "<script>alert(1)</script>"
    with context.use(user_agent=f"Evil {script}", request_id="r-1"):
        recorder.record(
            section="Customer",
            action="update",
            subject_id=99,
            subject_name='<img src=x onerror="alert(2)">',
            property="name",
            before=f"Old {script}",
            after={"note": script},
            metadata={"<b>key</b>": script},
            actor=Actor("api", "4", "</pre><script>alert(3)</script>"),
        )
    (event,) = org_events(org, section="Customer")
    body, page = get_page(admin_client, event.pk)

    assert "<script>" not in body and "<img src=x" not in body and "<b>key" not in body
    assert page.text("field:user_agent") == f"Evil {script}"
    assert page.text("event-title") == 'Update · Customer · <img src=x onerror="alert(2)">'
    # Beside a JSON After, the Before is JSON text too.
    assert page.text("before") == f'Before "Old {script}"'
    assert page.text("after") == f'After {{ "note": "{script}"}}'
    assert json.loads(page.text("raw-json"))["performed_by"]["name"] == (
        "</pre><script>alert(3)</script>"
    )
    assert f"<b>key</b> {script}" in page.text("field:metadata")


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_a_sealed_and_verified_event_says_so(org, admin_client, rule_change):
    _, update = rule_change
    call_command("seal_audit_chain", margin=0, org=org.pk, stdout=io.StringIO())
    call_command("verify_audit_chain", org=org.pk, stdout=io.StringIO())

    _, page = get_page(admin_client, update["criteria"].pk)
    assert re.fullmatch(
        r"Yes: seal #\d+ of the Business Rule chain, \d+ \w+ \d{4}, \d\d:\d\d:\d\d",
        page.text("field:sealed"),
    )
    assert page.text("field:mac") == "Yes: its MAC was valid when sealed."
    assert page.text("field:verified").startswith("Yes: its chain verified ")
