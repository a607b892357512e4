"""System checks on the audit declarations: every model of the domain apps is watched by
the recorder or exempt with a reason, and every watched model records its updates."""

import pytest
from django.apps.registry import Apps
from django.db import models

from auditlog import checks, recorder
from auditlog.recorder import AuditedModel

# A registry of its own: these models never join the project's apps.
scratch = Apps(["tests"])


class Undeclared(models.Model):  # noqa: DJ008
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "tests"
        apps = scratch


class PlainTracked(models.Model):  # noqa: DJ008
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "tests"
        apps = scratch


class Exempted(models.Model):  # noqa: DJ008
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "tests"
        apps = scratch


def test_the_projects_declarations_are_complete():
    assert checks.audit_declarations(None) == []


def test_an_undeclared_model_fails_the_check():
    [message] = checks.declaration_problems([Undeclared])
    assert message.id == "auditlog.E011"
    assert "tests.Undeclared is neither audited nor exempt" in message.msg


def test_an_exempt_model_passes_and_an_exemption_needs_a_reason():
    recorder.exempt(Exempted, reason="recorded explicitly by its services")
    try:
        assert checks.declaration_problems([Exempted]) == []
    finally:
        recorder._exempt.pop(Exempted, None)
    with pytest.raises(ValueError, match="needs its reason"):
        recorder.exempt(Exempted, reason=" ")


def test_a_tracked_model_that_is_not_an_audited_model_fails_the_check():
    # Registered by hand (register() would also connect signals to a model no test saves).
    recorder._registry[PlainTracked] = object()
    try:
        [message] = checks.declaration_problems([PlainTracked])
    finally:
        recorder._registry.pop(PlainTracked, None)
    assert message.id == "auditlog.E010"
    assert not issubclass(PlainTracked, AuditedModel)
