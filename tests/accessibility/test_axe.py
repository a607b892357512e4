"""axe-core on the product's main pages at desktop (1440 px) and phone (390 px) widths.

Each page must have no critical or serious violation, no ARIA reference to a missing id (axe
only asks for a review of those) and, on a phone, no sideways page scroll. Screenshots of both
widths (the top two screens) go to artifacts/<page>-<width>.png. A page joins the check with one line in PAGES.
"""

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from auditlog.models import AuditEvent
from tests.accessibility.conftest import DESKTOP, PHONE
from tests.auditlog.test_viewer_browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Page name -> its URL; the placeholders are filled from `ids` below.
PAGES = {
    "audit-log": "/settings/security/audit-log/",
    "audit-event": "/settings/security/audit-log/events/{event}/",
    # The Audit Log's events-per-day strip, an SVG document of its own (axe does not enter it
    # as the page's frame).
    "volume-strip": "/settings/security/audit-log/volume.svg",
    "history": "/settings/security/audit-log/history/business_rule/{rule}/",
    "timeline": "/settings/work/agents/{agent}/timeline/?start={day}&end={day}",
    "team-pulse": "/settings/work/pulse/",
    "settings-form": "/settings/business-rules/new/",
}
BLOCKING = ("critical", "serious")

# Ids that ARIA and label attributes name but the document lacks.
DANGLING_REFERENCES = """() => {
  const missing = [];
  for (const name of ["aria-describedby", "aria-labelledby", "aria-controls", "for", "popovertarget"]) {
    for (const element of document.querySelectorAll(`[${name}]`)) {
      for (const id of element.getAttribute(name).split(/\\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) missing.push(`${name}="${id}" on <${element.localName}>`);
      }
    }
  }
  return missing;
}"""


@pytest.fixture
def ids(org: Any, rule: Any, failed_sign_in: None, scripted_day: dict, day: Any) -> dict:
    """What the URLs in PAGES name: the business rule, one of its audit rows, the agent whose
    day is scripted and that day."""
    rows = AuditEvent.objects.for_org(org.pk)
    event = rows.filter(subject_type="business_rule", subject_id=str(rule.pk)).latest("id")
    return {"rule": rule.pk, "event": event.pk, "agent": scripted_day["ann"].pk, "day": day}


def report(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"  {' '.join(map(str, node['target']))}: {node['html'][:200]}")
            lines.append(f"    {node['failureSummary']}".replace("\n", "\n    "))
    return "\n".join(lines)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440", "390"])
@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_serious_violation(name, viewport, live_server, open_page, signed_in, ids):
    page = signed_in(open_page(viewport))
    page.goto(live_server.url + PAGES[name].format(**ids))
    page.wait_for_load_state("load")
    ARTIFACTS.mkdir(exist_ok=True)
    # An HTML page's first two screens' worth (the Audit Log's rows run on for many more); an SVG
    # document (the strip) as the window shows it.
    shot = ARTIFACTS / f"{name}-{viewport['width']}.png"
    if page.evaluate("document.documentElement.localName === 'html'"):
        height = min(page.evaluate("document.documentElement.scrollHeight"), 2 * viewport["height"])
        clip = {"x": 0, "y": 0, "width": viewport["width"], "height": height}
        page.screenshot(path=str(shot), full_page=True, clip=clip)
    else:
        page.screenshot(path=str(shot))

    violations = Axe().run(page).response["violations"]
    blocking = [violation for violation in violations if violation["impact"] in BLOCKING]
    assert blocking == [], f"axe on {name} at {viewport['width']} px:\n{report(blocking)}"
    assert page.evaluate(DANGLING_REFERENCES) == []

    if viewport is PHONE:
        widths = page.evaluate(
            "({page: document.documentElement.scrollWidth, window: window.innerWidth})"
        )
        assert widths["page"] <= widths["window"], f"{name} scrolls sideways at 390 px: {widths}"
