import pytest

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


def test_probe(org):
    from django.db import connections
    print(connections["default"].get_connection_params())
    print(connections["default"].settings_dict)
