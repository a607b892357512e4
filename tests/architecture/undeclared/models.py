from django.db import models


class Note(models.Model):  # noqa: DJ008 - neither declared nor exempt
    text = models.TextField()


class PlainSetting(models.Model):  # noqa: DJ008 - declared, but not an AuditedModel
    name = models.CharField(max_length=50)
