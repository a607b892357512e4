from auditlog.declare import Audited, register
from tests.architecture.undeclared.models import PlainSetting

register(
    Audited(
        model=PlainSetting,
        section="Plain Setting",
        event_type="settings",
        subject_type="plain_setting",
        properties=("name",),
    )
)
