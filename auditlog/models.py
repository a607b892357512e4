"""The audit record: one row per changed property, append-only, tenant first."""

import builtins
import uuid

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models.base import ModelState
from django.db.models.query import ModelIterable
from django.urls import reverse
from django.utils import timezone

from auditlog import catalog
from core.tenancy import TenantModel


class AuditEventQuerySet(models.QuerySet):
    def newest_first(self) -> "AuditEventQuerySet":
        return self.order_by("-occurred_at", "-id")

    def fetch(self) -> list["AuditEvent"]:
        """The events, equal to `list(self)`, in about half the CPU.

        A page's 51 rows through Model.__init__ and Django's per-value converters cost
        ~1.4 ms of every Audit Log page and API call (bench/TUNING.md). Here the queryset's
        own SQL runs on Django's cursor (so the connection's audit hooks apply), each row
        fills an instance's __dict__ as Model.from_db would, and JSON columns are parsed by
        orjson (Django's decoder where orjson declines, e.g. integers beyond 64 bits).
        Anything but a plain query of whole events takes Django's path.
        """
        if (
            self._result_cache is not None
            or self._iterable_class is not ModelIterable
            or self._prefetch_related_lookups
            or self.query.select_related
            or self.query.deferred_loading != (frozenset(), True)
            or self.query.annotations
        ):
            return list(self)
        compiler = self.query.get_compiler(using=self.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return []
        fields = [getattr(column, "target", None) for column, _, _ in compiler.select]
        if any(getattr(f, "model", None) is not self.model for f in fields):
            return list(self)
        attnames = [f.attname for f in fields]
        json_columns = [(i, f) for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
        with connections[self.db].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        events = []
        for row in rows:
            values = list(row)
            for i, field in json_columns:
                if isinstance(values[i], str):
                    try:
                        values[i] = orjson.loads(values[i])
                    except orjson.JSONDecodeError:
                        values[i] = field.from_db_value(values[i], None, None)
            event = object.__new__(self.model)
            event.__dict__.update(zip(attnames, values, strict=True))
            event._state = ModelState()
            event._state.adding = False
            event._state.db = self.db
            events.append(event)
        return events


class AuditEventManager(models.Manager.from_queryset(AuditEventQuerySet)):
    def for_org(self, org_id: int) -> AuditEventQuerySet:
        """The only way the product reads the log: always within one organisation."""
        return self.get_queryset().filter(org_id=org_id)


class AuditEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    # Not a foreign key: the log must outlive (and never cascade from) what it describes.
    org_id = models.BigIntegerField(null=True)
    occurred_at = models.DateTimeField()
    event_type = models.CharField(max_length=32, choices=list(catalog.EVENT_TYPES.items()))
    action = models.CharField(max_length=32, choices=list(catalog.ACTIONS.items()))
    section = models.CharField(max_length=64)
    property = models.CharField(max_length=64, null=True, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    actor_type = models.CharField(max_length=32, choices=list(catalog.ACTOR_TYPES.items()))
    actor_id = models.CharField(max_length=64, null=True, blank=True)
    actor_name = models.CharField(max_length=255)
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64, null=True, blank=True)
    subject_name = models.CharField(max_length=255, blank=True, default="")
    change_id = models.UUIDField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(null=True, blank=True)
    request_id = models.CharField(max_length=64, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # HMAC of the row's values with a key outside the database (auditlog/mac.py); checked by
    # sealing and verification. Null only on rows written before release 2 (sealed by v1).
    mac = models.BinaryField(null=True, editable=False)

    objects = AuditEventManager()

    class Meta:
        indexes = [
            models.Index(
                "org_id",
                models.F("occurred_at").desc(),
                models.F("id").desc(),
                name="audit_org_time",
            ),
            models.Index(
                "org_id",
                "event_type",
                models.F("occurred_at").desc(),
                models.F("id").desc(),
                name="audit_org_type_time",
                # The Kind sub-filter is settings events of one subject type: with the type in
                # the index a rare kind is found without reading the table (at 100M, Support
                # Access over a week read 19,950 table pages for 101 events: 27 s).
                include=["subject_type"],
            ),
            # subject_id before subject_type: equality on both is served the same, and so is
            # subject_id alone (the Conversation/Customer sub-filter), which otherwise scans.
            models.Index(
                "org_id",
                "subject_id",
                "subject_type",
                models.F("occurred_at").desc(),
                models.F("id").desc(),
                name="audit_org_subj_id_time",
                # The sub-filters pair a subject or performer with an event type: with the
                # type in the index, counting them (the volume strip) never reads the table,
                # which at 100M events is on disk (bench/TUNING.md item 14).
                include=["event_type"],
            ),
            models.Index(
                "org_id",
                "actor_type",
                "actor_id",
                models.F("occurred_at").desc(),
                models.F("id").desc(),
                name="audit_org_actor_time",
                include=["event_type", "subject_type"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.section} {self.action} {self.property or ''}"

    @builtins.property
    def performed_by(self) -> dict:
        return {"type": self.actor_type, "id": self.actor_id, "name": self.actor_name}

    @builtins.property
    def subject(self) -> dict:
        return {"type": self.subject_type, "id": self.subject_id, "name": self.subject_name}


class AuditEventDayCount(models.Model):
    """How many events an organisation had on one local day, per event type, section and
    subject type: counted once when the day is over (auditlog/daycounts.py), so the volume
    strip sums a few rows instead of counting events. Written in owner mode only.

    The table's name contains the audit table's, so the backend sets the session's
    `app.org_id` before reading it, as row-level security on it requires (0009)."""

    org_id = models.BigIntegerField()
    day = models.DateField()
    event_type = models.CharField(max_length=32)
    section = models.CharField(max_length=64)
    subject_type = models.CharField(max_length=64)
    events = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org_id", "day", "event_type", "section", "subject_type"],
                name="auditdaycount_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.org_id} {self.day} {self.section}/{self.subject_type}: {self.events}"


class AuditEventDayMark(models.Model):
    """Up to which local day (in `time_zone`) an organisation's events are counted."""

    org_id = models.BigIntegerField(unique=True)
    time_zone = models.CharField(max_length=64)
    through_day = models.DateField()

    def __str__(self) -> str:
        return f"{self.org_id} counted through {self.through_day} ({self.time_zone})"


class AuditExport(TenantModel):
    """A background export of one organisation's filtered log to a file, and its progress."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    FORMATS = ("csv", "ndjson")

    # Random, so export ids reveal nothing about other organisations' activity.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    format = models.CharField(max_length=8, choices=[(f, f) for f in FORMATS])
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    rows_written = models.BigIntegerField(default=0)
    rows_expected = models.BigIntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    file_name = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.CharField(max_length=255, help_text="Who asked: a user or a token.")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # POST /api/v1/exports/'s Idempotency-Key, hashed with the caller (token or user), and
    # the hash of the request it came with (audit_read/export_quota.export_start_once).
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    request_hash = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["org", "-created_at"], name="auditexport_org_created"),
            models.Index(fields=["status", "expires_at"], name="auditexport_status_expiry"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="auditexport_org_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.format} export {self.pk} ({self.status})"

    @builtins.property
    def downloadable(self) -> bool:
        return (
            self.status == self.Status.DONE
            and self.expires_at is not None
            and self.expires_at > timezone.now()
        )

    @builtins.property
    def download_path(self) -> str:
        return reverse("api-export-download", kwargs={"pk": self.pk})


class AuditSeal(models.Model):
    """One link of a hash chain: a sealed batch of an organisation's events of one section.

    Each (org_id, section) is its own chain, because retention is per section and a purge
    may only remove whole seals (auditlog/integrity.py, auditlog/retention.py). Written by
    the sealing job in owner mode; the application's role may only read seals. A null org_id
    is the platform chain (rows that belong to no organisation).
    """

    org_id = models.BigIntegerField(null=True)
    section = models.CharField(max_length=64)
    event_type = models.CharField(max_length=32)
    seq = models.BigIntegerField()
    # 1: release 1 (SQL canonical form, no MACs, no digests); 2: event lines, MACs, digests.
    version = models.SmallIntegerField(default=2)
    first_occurred_at = models.DateTimeField()
    first_event_id = models.BigIntegerField()
    last_occurred_at = models.DateTimeField()
    last_event_id = models.BigIntegerField()
    event_count = models.IntegerField()
    prev_hash = models.BinaryField(max_length=32)
    hash = models.BinaryField(max_length=32)
    # Per event, in order: its id (8 bytes) and the first 16 bytes of its digest, so a broken
    # seal can name the event that changed, went missing or was added.
    manifest = models.BinaryField()
    # Events sealed without a valid MAC: written with SQL alone, not by the application.
    forged_event_ids = models.JSONField(default=list, blank=True)
    sealed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org_id", "section", "seq"],
                name="auditseal_chain_seq",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"seal {self.org_id}/{self.section}#{self.seq} ({self.event_count} events)"


class AuditPurge(models.Model):
    """A receipt of a retention purge: where a chain now starts (the last purged seal's hash)."""

    org_id = models.BigIntegerField(null=True)
    section = models.CharField(max_length=64)
    through_seq = models.BigIntegerField()
    last_hash = models.BinaryField(max_length=32)
    last_occurred_at = models.DateTimeField()
    last_event_id = models.BigIntegerField()
    seals_purged = models.IntegerField()
    events_purged = models.BigIntegerField()
    cutoff = models.DateTimeField()
    purged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org_id", "section", "through_seq"],
                name="auditpurge_chain_seq",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"purge {self.org_id}/{self.section} through #{self.through_seq}"


class AuditDigest(models.Model):
    """A signed digest of one seal (or a retention tombstone): docs/trust.md.

    `document` is the signed JSON document itself; the signature was made with a key the
    database never holds, so a copy here can be checked, never forged. Written by sealing
    and the purge (owner); read-only to the application; also written to AUDIT_DIGEST_DIR.
    """

    org_id = models.BigIntegerField(null=True)
    seq = models.BigIntegerField()
    section = models.CharField(max_length=64)
    seal_seq = models.BigIntegerField()
    document = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org_id", "seq"], name="auditdigest_chain_seq", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return (
            f"digest {self.org_id or 'platform'}#{self.seq} ({self.section} seal {self.seal_seq})"
        )


class AuditChainStatus(models.Model):
    """The latest verification of an organisation's chains, for the viewer's badge, and each
    chain's verified checkpoint, so the next verification starts there (owner-written)."""

    org_id = models.BigIntegerField(null=True)
    checked_at = models.DateTimeField()
    verified = models.BooleanField()
    sealed_events = models.BigIntegerField(default=0)
    verified_up_to_event_id = models.BigIntegerField(null=True, blank=True)
    verified_up_to_at = models.DateTimeField(null=True, blank=True)
    first_broken_link = models.JSONField(null=True, blank=True)
    # {section: {"seq", "hash", "at", "id", "events"}}: the last seal verified in each chain.
    checkpoints = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org_id"], name="auditchainstatus_org", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return f"chain status of {self.org_id}: {'intact' if self.verified else 'broken'}"


class AuditSealRun(models.Model):
    """The horizon of an organisation's (null: the platform's) last sealing run, written by it
    in its transaction (owner; read-only to the application): every event before it was
    sealed then, so verification need not look for unsealed events among older ones and the
    integrity endpoint costs the same at any size."""

    org_id = models.BigIntegerField(null=True)
    sealed_through = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org_id"], name="auditsealrun_org", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return f"{self.org_id or 'platform'} sealed through {self.sealed_through}"


class AuditRetention(TenantModel):
    """An organisation's retention for one event type, instead of the catalog's default.

    Organization.audit_retention_days stays the upper bound for every type.
    """

    event_type = models.CharField(max_length=32, choices=list(catalog.EVENT_TYPES.items()))
    days = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "event_type"], name="auditretention_org_type")
        ]

    def __str__(self) -> str:
        return f"{self.event_type}: {self.days} days"


class AuditRetentionDefault(models.Model):
    """The catalog's default retention per section, copied after every migrate, so the
    database's purge function reads the same defaults as the code (auditlog.retention)."""

    section = models.CharField(max_length=64, primary_key=True)
    event_type = models.CharField(max_length=32)
    days = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.section}: {self.days} days"
