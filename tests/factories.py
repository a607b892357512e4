"""Shared factories (factory_boy) that build through the real services, so every object a
test makes is audited exactly as the product would audit it.

Each factory's "model" is the service function (factory_boy calls whatever `Meta.model` is):
the services check permissions, normalise input and record the audit rows. Sequences keep names and
emails unique within a test; tests pass what they care about and leave the rest.
"""

import factory

from accounts.models import RoleGroup
from accounts.permissions import AGENT
from accounts.services import organization_create, role_group_create, user_create
from conversations.services import conversation_create, customer_create
from settings_app.services import shortcut_create

PASSWORD = "correct horse battery"  # noqa: S105


class OrganizationFactory(factory.Factory):
    """An organisation with its administrator (organization_create provisions the rest)."""

    class Meta:
        model = organization_create  # a service: objects come audited

    name = factory.Sequence(lambda n: f"Organisation {n}")
    admin_email = factory.LazyAttribute(lambda o: f"admin@{o.name.lower().replace(' ', '-')}.test")
    admin_password = PASSWORD
    admin_name = factory.LazyAttribute(lambda o: f"{o.name} Admin")


class RoleGroupFactory(factory.Factory):
    class Meta:
        model = role_group_create  # a service: objects come audited

    name = factory.Sequence(lambda n: f"Role group {n}")
    permissions = factory.LazyFunction(list)


class UserFactory(factory.Factory):
    """A user of the current organisation (the caller's tenant), an Agent unless told."""

    class Meta:
        model = user_create  # a service: objects come audited

    email = factory.Sequence(lambda n: f"user{n}@acme.test")
    password = PASSWORD
    name = factory.Sequence(lambda n: f"User {n}")
    role_group = factory.LazyFunction(lambda: RoleGroup.objects.get(name=AGENT))


class CustomerFactory(factory.Factory):
    class Meta:
        model = customer_create  # a service: objects come audited

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.test")


class ConversationFactory(factory.Factory):
    class Meta:
        model = conversation_create  # a service: objects come audited

    customer = factory.SubFactory(CustomerFactory)
    subject = factory.Sequence(lambda n: f"Conversation {n}")


class ShortcutFactory(factory.Factory):
    class Meta:
        model = shortcut_create  # a service: objects come audited

    name = factory.Sequence(lambda n: f"shortcut-{n}")
    text = "Thanks for getting in touch!"
