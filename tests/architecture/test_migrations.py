"""The models and the migrations agree: a change to a model comes with its migration."""

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db(databases=["default", "owner"])
def test_no_model_change_lacks_its_migration():
    out = io.StringIO()
    try:
        call_command("makemigrations", check=True, dry_run=True, stdout=out, stderr=out)
    except SystemExit as exit:
        raise AssertionError(f"makemigrations --check found changes:\n{out.getvalue()}") from exit
    assert "No changes detected" in out.getvalue()
