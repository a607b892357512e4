"""Test databases are created and destroyed by the owner login, never by the app login.

The application's login may not create databases (nor own anything), so `create_test_db`
on an alias with an `OWNER_ALIAS` runs on that alias (the schema's owner, which also runs
the migrations) and then points this alias at the same database.
"""

from typing import Any

from django.db import connections
from django.db.backends.postgresql import creation


class DatabaseCreation(creation.DatabaseCreation):
    def _owner(self) -> Any:
        alias = self.connection.settings_dict.get("OWNER_ALIAS")
        if alias and alias != self.connection.alias:
            return connections[alias]
        return None

    def create_test_db(self, *args: Any, **kwargs: Any) -> str:
        owner = self._owner()
        if owner is None:
            return super().create_test_db(*args, **kwargs)
        name = owner.creation.create_test_db(*args, **kwargs)
        self.connection.close()
        self.connection.settings_dict["NAME"] = name
        return name

    def destroy_test_db(self, old_database_name: Any = None, *args: Any, **kwargs: Any) -> None:
        owner = self._owner()
        if owner is None:
            return super().destroy_test_db(old_database_name, *args, **kwargs)
        self.connection.close()
        owner.creation.destroy_test_db(old_database_name, *args, **kwargs)
        self.connection.settings_dict["NAME"] = old_database_name
        return None
