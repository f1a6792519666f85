"""What an audit event may hold: redaction, validation, and the retention setting."""

import pytest
from pydantic import ValidationError

from services.core.audit import REDACTED, AuditRecord, redact
from services.core.settings import AUDIT_RETENTION_FLOOR_DAYS, Settings

ID = "11010519491231002X"
MASKED = "110105************"


def test_redact_masks_id_numbers_and_hides_health_text_at_any_depth():
    data = {
        "id_number": ID,
        "head_id_number": " 11010519491231002x ",
        "illness": "尿毒症",
        "members": [{"ID_NUMBER": ID, "Illness": None, "name": "张三"}],
        "note": f"核对身份证 {ID}，旧号 110105491231002",
        "phone": "13812345678",
        "count": 3,
    }
    out = redact(data)
    assert out == {
        "id_number": MASKED,
        "head_id_number": MASKED,
        "illness": REDACTED,
        "members": [{"ID_NUMBER": MASKED, "Illness": None, "name": "张三"}],
        "note": f"核对身份证 {MASKED}，旧号 110105*********",
        "phone": "13812345678",
        "count": 3,
    }
    assert data["id_number"] == ID  # the caller's dict is left alone
    assert redact(out) == out  # idempotent
    assert redact(None) is None


def test_redact_takes_a_domain_s_own_sensitive_keys():
    assert redact({"bank_account": "6222020200001234567", "name": "李梅"}, {"bank_account"}) == {
        "bank_account": REDACTED,
        "name": "李梅",
    }


def test_a_record_is_redacted_on_the_way_in():
    rec = AuditRecord(
        action="person.update",
        before={"illness": "肺结核"},
        after={"illness": "痊愈"},
        detail={"looked_up": ID},
        object_id=ID,
    )
    assert rec.before == {"illness": REDACTED} and rec.after == {"illness": REDACTED}
    assert rec.detail == {"looked_up": MASKED} and rec.object_id == MASKED


def test_free_text_is_cut_not_refused():
    rec = AuditRecord(action="auth.login", result="failure", actor_name="x" * 500, request_id="r" * 80, object_id=12345)
    assert len(rec.actor_name) == 100 and len(rec.request_id) == 64 and rec.object_id == "12345"


def test_a_malformed_ip_is_kept_in_detail_instead():
    rec = AuditRecord(action="auth.login", ip="10.0.0.1, 10.0.0.2", detail={"reason": "password"})
    assert rec.ip is None and rec.detail == {"reason": "password", "ip_unparsed": "10.0.0.1, 10.0.0.2"}
    assert AuditRecord(action="auth.login", ip=" 2001:db8::1 ").ip == "2001:db8::1"


def test_row_has_every_column_the_application_writes():
    row = AuditRecord(action="auth.login", region_code="").row()
    assert row["result"] == "success" and row["region_code"] is None
    assert set(row) == {
        "action",
        "result",
        "actor",
        "actor_name",
        "client",
        "role",
        "object_type",
        "object_id",
        "region_code",
        "status",
        "request_id",
        "ip",
        "before",
        "after",
        "detail",
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"action": "login"},
        {"action": "Auth.Login"},
        {"action": "auth.login", "result": "ok"},
        {"action": "auth.login", "actor": "12"},
        {"action": "auth.login", "region_code": "52990x"},
        {"action": "auth.login", "status": 42},
        {"action": "auth.login", "object_type": "Household"},
        {"action": "auth.login", "id": 5},
        {"action": "auth.login", "hash": "00"},
    ],
)
def test_invalid_records_are_refused(bad):
    with pytest.raises(ValidationError):
        AuditRecord(**bad)


def test_retention_is_never_under_six_months(monkeypatch):
    assert Settings().audit.retention_days == 365
    assert Settings(audit={"retention_days": AUDIT_RETENTION_FLOOR_DAYS}).audit.retention_days == 183
    with pytest.raises(ValidationError, match="at least 183"):
        Settings(audit={"retention_days": 182})
    monkeypatch.setenv("GUARDLINE_AUDIT__RETENTION_DAYS", "30")
    with pytest.raises(ValidationError):
        Settings()
