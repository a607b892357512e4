"""The shared factories build through the services: objects exist and are audited."""

from accounts.models import RoleGroup
from accounts.permissions import AGENT
from tests.conftest import audit_rows
from tests.factories import (
    ConversationFactory,
    OrganizationFactory,
    RoleGroupFactory,
    ShortcutFactory,
    UserFactory,
)


def test_factories_make_audited_objects_of_the_current_organisation(org):
    user = UserFactory()
    group = RoleGroupFactory(permissions=["audit.view"])
    conversation = ConversationFactory(subject="Where is my parcel?")
    shortcut = ShortcutFactory(name="greeting")
    assert user.org_id == group.org_id == conversation.org_id == shortcut.org_id == org.pk
    assert user.role_group == RoleGroup.objects.get(name=AGENT)
    assert user.check_password("correct horse battery")
    sections = {row["section"] for row in audit_rows(org)}
    assert {"User", "Role Group", "Conversation", "Shortcut"} <= sections


def test_organisations_get_unique_names_and_their_own_administrator(db):
    first, second = OrganizationFactory(), OrganizationFactory()
    assert first.name != second.name
    assert first.pk != second.pk
