from apps.audit.services import audit_record


def audit_entry(**kwargs):
    """Audit entries are only ever written through the service (it keeps the hash chain)."""
    kwargs.setdefault("action", "test.action")
    return audit_record(**kwargs)
