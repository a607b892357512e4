"""One declaration per audited model: what the log records about it and where it lives.

An app says in its `audit.py`, once per model (or per section written only by explicit
`record()` calls), everything the product needs to know:

    register(
        Audited(
            model=Macro, section="Macro", event_type="settings", subject_type="macro",
            kind="macro", properties=("name", "text"), edit_url="settings_app:macro_edit",
            history="Macro", restore=lambda macro, values: macro_update(macro=macro, **values),
            nav=Nav(group="Settings", label="Macros", url_name="settings_app:macros"),
        )
    )

From the declarations come the catalog's sections (and so the Section, Kind and API enum
filters, sealing and retention), the recorder's watch on the model, the History pages and
restore, the Audit Log's subject links and the settings sidebar. The kernel holds no list of
them: `auditlog.apps` imports every app's `audit.py` at start-up, then the accessors here
answer. The system checks (auditlog/checks.py) hold every model of the domain apps to a
declaration or an `Exempt`, and the declarations to the product's catalog
(`catalog.SPEC_SECTIONS`).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models

from auditlog import catalog, recorder
from auditlog.differences import Difference


@dataclass(frozen=True, kw_only=True, slots=True)
class Nav:
    """A page in the settings sidebar: `group` is its heading ("Organisation", "Settings",
    "Security", "Work"); `order` sorts it within the group."""

    group: str
    label: str
    url_name: str
    order: int = 100


@dataclass(frozen=True, kw_only=True, slots=True)
class Link:
    """A link shown on each of a section's rows, to a URL taking the row's subject id;
    `per_day` adds `?start=<the row's day>` (a timeline of that day)."""

    label: str
    url_name: str
    per_day: bool = False


@dataclass(frozen=True, kw_only=True, eq=False)
class Audited:
    """A model whose saves and deletes become rows of `section`."""

    model: type[models.Model]
    section: str
    event_type: str
    subject_type: str
    properties: tuple[str, ...]  # the fields recorded, in display order
    redacted: tuple[str, ...] = ()  # recorded as "[redacted]"; never state, never restored
    # Properties of the section that are not fields: only explicit record() calls carry them.
    recorded: tuple[str, ...] = ()
    actions: tuple[str, ...] = ("create", "update", "delete")
    subject_name: Callable[[Any], str] = str
    # property -> the value as people read it (a role group's name for its id)
    display: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    org_of: Callable[[Any], int | None] | None = None  # default: the instance's org_id
    kind: str | None = None  # the Settings "Kind" sub-filter value
    edit_url: str | None = None  # URL name of the object's page, taking its id
    history: str | None = None  # the History page's label; None: no History page
    restore: Callable[[Any, dict[str, Any]], None] | None = None  # puts earlier values back
    # property -> what an empty earlier value restores as ("" for a shortcut's category)
    empty_as: Mapping[str, Any] = field(default_factory=dict)
    # property -> (before, after) -> the Differences the History page lists.
    explain: Mapping[str, Callable[[Any, Any], list[Difference]]] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    nav: Nav | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class Events:
    """A section written only by explicit `recorder.record()` calls (sign-ins, work sessions)."""

    section: str
    event_type: str
    subject_type: str
    actions: tuple[str, ...]
    properties: tuple[str, ...] = ()
    redacted: tuple[str, ...] = ()
    kind: str | None = None
    links: tuple[Link, ...] = ()
    nav: Nav | None = None


@dataclass(frozen=True)
class Exempt:
    """A model of a domain app whose saves are not watched, and why."""

    model: type[models.Model]
    reason: str


Declaration = Audited | Events

_declarations: dict[str, Declaration] = {}  # section name -> declaration
_by_model: dict[type[models.Model], Audited] = {}
_navigation: list[Nav] = []
_loaded = False


def register(*declarations: Audited | Events | Exempt) -> None:
    """Declare sections and exemptions (module level in an app's `audit.py`). Raises
    ValueError at once for a declaration that cannot work: an unknown event type, action or
    field, a redacted property that is not recorded, a section or kind declared twice."""
    for declaration in declarations:
        if isinstance(declaration, Exempt):
            recorder.exempt(declaration.model, reason=declaration.reason)
            continue
        _check(declaration)
        section = catalog.Section(
            declaration.section,
            declaration.event_type,
            tuple(declaration.actions),
            tuple(declaration.properties) + tuple(getattr(declaration, "recorded", ())),
            declaration.subject_type,
            redacted=tuple(declaration.redacted),
            kind=declaration.kind,
        )
        catalog.add_section(section)
        _declarations[section.name] = declaration
        if declaration.nav is not None:
            _navigation.append(declaration.nav)
        if isinstance(declaration, Audited):
            _by_model[declaration.model] = declaration
            recorder.watch(
                declaration.model,
                section=section,
                fields=declaration.properties,
                subject_name=declaration.subject_name,
                display=dict(declaration.display),
                org_of=declaration.org_of,
            )


def _check(declaration: Declaration) -> None:
    name = declaration.section
    where = (
        f"{declaration.model.__name__} ({name!r})"
        if isinstance(declaration, Audited)
        else repr(name)
    )
    problems: list[str] = []
    if name in _declarations:
        problems.append("the section is declared twice")
    if declaration.event_type not in catalog.EVENT_TYPES:
        problems.append(
            f"event type {declaration.event_type!r} is not one of {sorted(catalog.EVENT_TYPES)}"
        )
    unknown_actions = set(declaration.actions) - set(catalog.ACTIONS)
    if unknown_actions:
        problems.append(f"actions {sorted(unknown_actions)} are not in the catalog")
    properties = set(declaration.properties) | set(getattr(declaration, "recorded", ()))
    if not set(declaration.redacted) <= properties:
        problems.append(
            f"redacted {sorted(set(declaration.redacted) - properties)} are not properties"
        )
    if declaration.kind is not None:
        if declaration.event_type != "settings":
            problems.append("only settings sections have a kind")
        if any(other.kind == declaration.kind for other in _declarations.values()):
            problems.append(f"kind {declaration.kind!r} is declared twice")
    if isinstance(declaration, Audited):
        model = declaration.model
        if model in _by_model:
            problems.append("the model is declared twice")
        for field_name in declaration.properties:
            try:
                model._meta.get_field(field_name)
            except Exception:  # FieldDoesNotExist
                problems.append(f"{field_name!r} is not a field of the model")
        for mapping in ("display", "empty_as", "explain"):
            extra = set(getattr(declaration, mapping)) - properties
            if extra:
                problems.append(f"{mapping} names {sorted(extra)}, which are not properties")
        if declaration.restore is not None and declaration.history is None:
            problems.append("restore needs a History page (history=…)")
        for other in _by_model.values():
            if other.subject_type == declaration.subject_type and (
                (other.edit_url and declaration.edit_url) or (other.history and declaration.history)
            ):
                problems.append(
                    f"subject type {declaration.subject_type!r} already has its page "
                    f"({other.model.__name__})"
                )
    if problems:
        raise ValueError(f"Audit declaration {where}: " + "; ".join(problems) + ".")


def loaded() -> None:
    """Mark every app's declarations as read (auditlog.apps, after autodiscovery)."""
    global _loaded
    _loaded = True
    catalog.sections_loaded()


def _require() -> None:
    if not _loaded:
        raise ImproperlyConfigured(
            "Audit declarations are read when the apps are ready; this ran before."
        )


# --------------------------------------------------------------------------- reading them


def declarations() -> tuple[Declaration, ...]:
    """Every declaration, in the catalog's section order."""
    _require()
    return tuple(_declarations[section.name] for section in catalog.sections())


def declaration(section: str) -> Declaration | None:
    _require()
    return _declarations.get(section)


def audited(model: type[models.Model]) -> Audited | None:
    """The declaration of a model, or None when its saves are not watched."""
    return _by_model.get(model)


def with_history() -> dict[str, Audited]:
    """subject_type -> the declaration of the objects that have a History page."""
    return {d.subject_type: d for d in declarations() if isinstance(d, Audited) and d.history}


def subject_pages() -> dict[str, tuple[type[models.Model], str]]:
    """subject_type -> (model, URL name of the object's page): the Audit Log's subject links."""
    return {
        d.subject_type: (d.model, d.edit_url)
        for d in declarations()
        if isinstance(d, Audited) and d.edit_url
    }


def row_links() -> dict[str, tuple[Link, ...]]:
    """section name -> the links each of its rows carries (beside History)."""
    return {d.section: d.links for d in declarations() if d.links}


def navigation() -> tuple[Nav, ...]:
    """The declared pages of the settings sidebar, in registration order."""
    _require()
    return tuple(_navigation)


def declared_models() -> Iterable[type[models.Model]]:
    return tuple(_by_model)
