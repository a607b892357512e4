"""Sign-in throttling per account and per address, passwords unlike the user's own email and
name, and user forms that tell no organisation about another's users (SPEC §8.2)."""

import pytest
from axes.checks import axes_lockout_params_check
from django.test import Client

from accounts.models import RoleGroup, User
from tests.conftest import PASSWORD

OWNER_IP = "198.51.100.7"
ATTACKER_IP = "203.0.113.66"


def browser(ip: str) -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT="pytest-signin/1.0")


def sign_in(client: Client, email: str, password: str) -> int:
    return client.post("/accounts/login/", {"username": email, "password": password}).status_code


def test_one_address_trying_many_accounts_is_locked_out(org, agent, settings):
    settings.SIGNIN_IP_FAILURE_LIMIT = 8
    attacker = browser(ATTACKER_IP)
    for n in range(settings.SIGNIN_IP_FAILURE_LIMIT - 1):
        assert sign_in(attacker, f"guess{n}@acme.test", "Winter2025!") == 200
    assert sign_in(attacker, "last-guess@acme.test", "Winter2025!") == 429
    # Every account is now refused from that address, even with the right password...
    assert sign_in(attacker, "agent@acme.test", PASSWORD) == 429
    assert "_auth_user_id" not in attacker.session
    # ...while the account itself works from anywhere else.
    assert sign_in(browser(OWNER_IP), "agent@acme.test", PASSWORD) == 302


def test_failures_from_many_addresses_do_not_lock_the_owner_out(org, agent, settings):
    attackers = [browser(f"192.0.2.{n}") for n in range(1, 11)]
    for attacker in attackers:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            sign_in(attacker, "agent@acme.test", "wrong-password")
    # Each attacking address is locked out of the account...
    assert sign_in(attackers[0], "agent@acme.test", PASSWORD) == 429
    # ...and the owner, from their own address, signs in as usual.
    assert sign_in(browser(OWNER_IP), "agent@acme.test", PASSWORD) == 302


def test_signing_in_to_ones_own_account_does_not_reset_the_address_limit(org, agent, settings):
    settings.SIGNIN_IP_FAILURE_LIMIT = 8
    attacker = browser(ATTACKER_IP)
    for n in range(settings.SIGNIN_IP_FAILURE_LIMIT - 1):
        sign_in(attacker, f"guess{n}@acme.test", "Winter2025!")
    assert sign_in(attacker, "agent@acme.test", PASSWORD) == 302
    attacker.post("/accounts/logout/")
    # The address had one failure left, and still has.
    assert sign_in(attacker, "someone@acme.test", "Winter2025!") == 429
    assert sign_in(attacker, "admin@acme.test", PASSWORD) == 429


def test_lockouts_include_the_address():
    assert axes_lockout_params_check(None) == []


@pytest.mark.parametrize(
    "password", ["bea.brownstone@acme.test", "Beatrice Brownstone", "brownstone.bea@acme.test"]
)
def test_a_new_users_password_may_not_resemble_their_email_or_name(org, admin_client, password):
    response = admin_client.post(
        "/settings/users/new/",
        {
            "name": "Beatrice Brownstone",
            "email": "bea.brownstone@acme.test",
            "role_group": RoleGroup.objects.get(name="Agent").pk,
            "is_active": "on",
            "password": password,
        },
    )
    assert response.status_code in (200, 400)
    assert "too similar" in response.content.decode()
    assert not User.objects.filter(email="bea.brownstone@acme.test").exists()


def test_a_changed_password_may_not_resemble_the_users_email_or_name(org, admin_client, agent):
    old_hash = agent.password
    for password in ("agent@acme.test", "Ann Agent"):
        response = admin_client.post(
            f"/settings/users/{agent.pk}/password/", {"password": password}
        )
        assert response.status_code == 400
        assert "too similar" in response.content.decode()
    agent.refresh_from_db()
    assert agent.password == old_hash


UNAVAILABLE = "This email address cannot be used; choose another."


def _form_errors(response) -> list[str]:
    return list(response.context["form"].errors.get("email", []))


def test_the_user_form_does_not_say_whether_an_email_exists_in_another_organisation(
    org, admin_client, agent, other_org
):
    new_user = {
        "name": "Someone",
        "role_group": RoleGroup.objects.get(name="Agent").pk,
        "is_active": "on",
        "password": "a-long-enough-secret",
    }
    elsewhere = admin_client.post("/settings/users/new/", new_user | {"email": "admin@globex.test"})
    here = admin_client.post("/settings/users/new/", new_user | {"email": "agent@acme.test"})
    # One answer whether the address is taken in this organisation or in another, and it
    # does not say that an account exists.
    assert _form_errors(elsewhere) == _form_errors(here) == [UNAVAILABLE]

    edit = admin_client.post(
        f"/settings/users/{agent.pk}/",
        {
            "name": "Ann Agent",
            "email": "admin@globex.test",
            "role_group": RoleGroup.objects.get(name="Agent").pk,
            "is_active": "on",
        },
    )
    assert _form_errors(edit) == [UNAVAILABLE]
    assert User.all_tenants.filter(email="admin@globex.test").count() == 1
