"""The Audit Log reads a change as one event: its rows grouped under one performer, date and
event; and Before/After show the words and JSON lines that changed without a hover."""

import re

from audit_read.presentation import word_diff
from settings_app import services

URL = "/settings/security/audit-log/"
RULE = {
    "match": "all",
    "conditions": [{"field": "priority", "operator": "equals", "value": "high"}],
}
ACTIONS = [{"type": "set_priority", "value": "urgent"}]


def _groups(html: str) -> list[str]:
    return re.findall(r'<tbody class="change".*?</tbody>', html, re.S)


def test_a_five_property_create_shows_as_one_group(org, admin, admin_client):
    services.business_rule_create(name="VIP routing", criteria=RULE, actions=ACTIONS)
    html = admin_client.get(
        URL, {"event_type": "settings", "kind": "business_rule"}
    ).content.decode()
    [group] = _groups(html)
    rows = re.findall(r"<tr data-event-id=.*?</tr>", group, re.S)
    assert len(rows) == 5
    # Performer, date, event and section once, spanning the change's rows (and its toggle).
    assert group.count('data-label="Performed By"') == 1
    assert group.count('data-label="Date"') == 1
    assert 'rowspan="5"' in group  # one row past four is shown, not hidden behind a button
    assert "data-expand" not in group
    assert group.count('data-label="Property"') == 5
    assert ">Create</a>" in group
    assert "This page: 1 change in 5 rows" in html


def test_a_change_with_many_properties_hides_the_rest_behind_a_button(org, admin_client):
    from accounts.models import User
    from accounts.services import user_create

    user = user_create(email="zed@acme.test", password=None, name="Zed", phone="+1 555 0100")
    user = User.objects.get(pk=user.pk)
    html = admin_client.get(URL, {"section": "User", "subject_id": user.pk}).content.decode()
    [group] = _groups(html)
    visible = re.findall(r'<tr data-event-id="\d+">', group)
    hidden = re.findall(r'<tr data-event-id="\d+" class="more" hidden>', group)
    assert len(visible) == 4 and len(hidden) >= 2
    assert f"Show {len(hidden)} more properties" in group
    assert f'href="{URL}events/' in group  # the event page lists them all without script


def test_text_before_and_after_mark_the_deleted_and_inserted_words(org, admin_client):
    shortcut = services.shortcut_create(
        name="Refunds", text="Refunds reach your card within five working days."
    )
    services.shortcut_update(
        shortcut=shortcut, text="Refunds reach your card within ten working days, usually."
    )
    html = admin_client.get(URL, {"section": "Shortcut", "property": "text"}).content.decode()
    update = _groups(html)[0]
    assert ">Update</a>" in update
    # In the cell itself, without hovering: the removed word struck, the added ones marked.
    before_button, after_button = re.findall(
        r'<button type="button" class="value"[^>]*>(.*?)</button>', update, re.S
    )
    assert "<del>five</del>" in before_button and "<ins>" not in before_button
    assert "<ins>ten</ins>" in after_button and "<del>" not in after_button
    assert "<ins>, usually</ins>" in after_button
    assert "within <del>five</del> working" in before_button  # spaces kept around marks
    # And in the popover, the whole text with the same marks.
    assert "Refunds reach your card within <del>five</del> working days." in update


def test_word_diff_pairs_words_and_keeps_the_text():
    old, new = word_diff("Refunds reach your card", "Refunds now reach my card")
    assert "".join(text for text, _ in old) == "Refunds reach your card"
    assert "".join(text for text, _ in new) == "Refunds now reach my card"
    assert [t for t, mark in old if mark] == ["your"]
    assert [t for t, mark in new if mark] == [" now", "my"]


def test_a_json_cell_shows_its_first_changed_line(org, admin_client):
    rule = services.business_rule_create(name="VIP routing", criteria=RULE, actions=ACTIONS)
    criteria = {"match": "any", "conditions": RULE["conditions"]}
    services.business_rule_update(rule=rule, criteria=criteria)
    html = admin_client.get(
        URL, {"section": "Business Rule", "property": "criteria"}
    ).content.decode()
    update = _groups(html)[0]
    cells = re.findall(
        r'<button type="button" class="value json"[^>]*>(.*?)</button>', update, re.S
    )
    assert cells[0].startswith("<del>&quot;match&quot;: &quot;all&quot;</del>") or cells[
        0
    ].startswith('<del>"match": "all"</del>'), cells[0]
    assert '"any"' in cells[1].replace("&quot;", '"')


def test_a_failed_sign_in_shows_why_and_which_email(org, client):
    client.post("/accounts/login/", {"username": "admin@acme.test", "password": "wrong"})
    from django.test import Client

    from accounts.models import User

    admin_client = Client()
    admin_client.force_login(User.objects.get(email="admin@acme.test"))
    html = admin_client.get(
        URL, {"event_type": "authorization", "action": "login_failed"}
    ).content.decode()
    [group] = _groups(html)
    assert "Wrong password" in group
    assert "Tried: admin@acme.test" in group
    assert "Unknown (not signed in)" in group


def test_a_page_never_splits_a_change(org, admin, admin_client):
    """Five rows of one create on a page of three: the page finishes the change, and the next
    page starts with the following change."""
    services.shortcut_create(name="First", text="One")
    services.business_rule_create(name="VIP routing", criteria=RULE, actions=ACTIONS)
    page = admin_client.get(URL, {"event_type": "settings", "page_size": 3}).content.decode()
    [group] = _groups(page)
    assert len(re.findall(r"<tr data-event-id=", group)) == 5
    assert "VIP routing" in group
    older = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    following = admin_client.get(URL + older).content.decode()
    assert "VIP routing" not in following.split("</thead>")[1]
    assert "First" in following
