"""The audit trail (审计日志): append-only, hash-chained events of logins, writes, sensitive
reads and permission changes, kept at least six months (等保 2.0 level 3).

    from services.core.audit import AuditRecord, record, record_now, redact
"""

from services.core.audit.models import AuditEvent, AuditResult
from services.core.audit.schemas import DEFAULT_SENSITIVE_KEYS, REDACTED, AuditEventOut, AuditRecord, redact
from services.core.audit.service import AuditRef, get_event, list_events, record, record_many, record_now

__all__ = [
    "DEFAULT_SENSITIVE_KEYS",
    "REDACTED",
    "AuditEvent",
    "AuditEventOut",
    "AuditRecord",
    "AuditRef",
    "AuditResult",
    "get_event",
    "list_events",
    "record",
    "record_many",
    "record_now",
    "redact",
]
