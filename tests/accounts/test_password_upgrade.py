"""A password hash upgraded by the framework at sign-in is not a password change (SPEC 8.3):
no `User / password` row; a real change still records `[redacted] -> [redacted]`."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client

from accounts.models import User
from accounts.services import user_set_password
from core import context
from tests.conftest import PASSWORD, audit_rows, compact

HERE = __name__


class FewIterations(PBKDF2PasswordHasher):
    """PBKDF2 as Django's, with fewer iterations (fast, and an older configuration)."""

    iterations = 1_000


class MoreIterations(PBKDF2PasswordHasher):
    """The same algorithm after the platform raised its iteration count."""

    iterations = 2_000


def sign_in(email: str, password: str) -> Client:
    client = Client(REMOTE_ADDR="198.51.100.20", HTTP_USER_AGENT="pytest-browser/1.0")
    response = client.post("/accounts/login/", {"username": email, "password": password})
    assert response.status_code == 302, response.content.decode()
    return client


def password_rows(org):
    return audit_rows(org, section="User", property="password")


def test_a_new_hasher_at_sign_in_rehashes_and_records_nothing(org, agent, settings):
    stored = User.objects.get(pk=agent.pk).password
    assert stored.startswith("md5$")  # made under the tests' hasher
    before = password_rows(org)
    settings.PASSWORD_HASHERS = [
        f"{HERE}.FewIterations",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    sign_in(agent.email, PASSWORD)

    upgraded = User.objects.get(pk=agent.pk).password
    assert upgraded.startswith("pbkdf2_sha256$1000$") and upgraded != stored
    assert password_rows(org) == before
    # The sign-in itself is recorded, and nothing else about the user.
    assert compact(audit_rows(org, section="Session"), "action", "actor_type", "subject_id") == [
        ("login", "user", str(agent.pk))
    ]
    assert audit_rows(org, section="User", action="update") == []
    # The upgraded hash still signs in.
    sign_in(agent.email, PASSWORD)


def test_more_iterations_at_sign_in_rehash_and_record_nothing(org, agent, settings):
    settings.PASSWORD_HASHERS = [f"{HERE}.FewIterations"]
    with context.use(actor=context.SYSTEM):
        user_set_password(user=agent, password=PASSWORD)
    before = password_rows(org)
    settings.PASSWORD_HASHERS = [f"{HERE}.MoreIterations", f"{HERE}.FewIterations"]

    sign_in(agent.email, PASSWORD)

    assert User.objects.get(pk=agent.pk).password.startswith("pbkdf2_sha256$2000$")
    assert password_rows(org) == before


def test_a_real_password_change_is_still_recorded_redacted(org, admin, admin_client, agent):
    before = len(password_rows(org))
    response = admin_client.post(
        f"/settings/users/{agent.pk}/password/", {"password": "another-long-secret"}
    )
    assert response.status_code == 302
    rows = password_rows(org)[before:]
    assert compact(rows, "action", "before", "after", "actor_type", "actor_id", "subject_id") == [
        ("update", "[redacted]", "[redacted]", "user", str(admin.pk), str(agent.pk))
    ]
    sign_in(agent.email, "another-long-secret")
