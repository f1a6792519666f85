"""Hidden characters in text: every string field of every request body refuses control
characters, Unicode bidirectional controls and zero-width characters with 422
``text_forbidden_characters`` naming the field; multi-line free text (notes, reasons,
findings) keeps line feeds and tabs; ordinary Chinese names, with the middle dot of
transcribed names, pass.

The fields are read from the OpenAPI document (every free string: no enum, pattern or
format), the valid bodies from the mass-assignment test, so a new field or operation is
covered without a change here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.core.types import checked_text, forbidden_character
from tests.api.test_households import create
from tests.api.test_mass_assignment import VALID, WRITER, WRITES, _resolve, _send, full_world
from tests.factories import person

# A name that reads "张三" but is stored reversed or padded with invisible characters.
CRAFTED = ["张\u202e三", "张\u200b三", "张\u2066三\u2069", "张\x00三", "张\x85三", "\ufeff张三"]
SINGLE_LINE_ONLY = ["张\n三", "张\t三", "张\r三"]
NAMES = ["阿卜杜拉·买买提", "阿依古丽・吐尔逊", "Maria José", "欧阳娜娜", "爱新觉罗·启星"]


def _free_string(schema: dict) -> bool:
    """A string the client writes freely (not an enum, a pattern, a date, a number)."""
    alternatives = schema.get("anyOf") or schema.get("oneOf") or [schema]
    alternatives = [_resolve(a) for a in alternatives]
    if any(a.get("type") in ("number", "integer") for a in alternatives):
        return False  # an amount: a number or a string of one
    strings = [a for a in alternatives if a.get("type") == "string"]
    return bool(strings) and not any(k in a for a in strings for k in ("enum", "pattern", "format", "const"))


def text_fields(body: dict, schema: dict, where: str = "") -> Iterator[tuple[str, dict, str]]:
    """(location, the object holding it, field name) of every free string field the schema
    gives the objects of the body (present in the valid body or not)."""
    props = schema.get("properties") or {}
    for name, sub in props.items():
        if _free_string(sub):
            yield f"{where}{name}", body, name
        value = body.get(name)
        inner = _resolve(sub)
        if isinstance(value, dict):
            yield from text_fields(value, inner, f"{where}{name}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            yield from text_fields(value[0], _resolve(inner.get("items", {})), f"{where}{name}[0].")


@pytest.mark.parametrize("op_id", sorted(VALID))
async def test_every_text_field_refuses_hidden_characters(op_id, client, auth, db, settings):
    world = await full_world(client, auth, db, settings)
    _, _, schema = WRITES[op_id]
    valid = VALID[op_id](world)
    failures = []
    for where, obj, name in list(text_fields(valid.body, schema)):
        had, old = name in obj, obj.get(name)
        try:
            obj[name] = "张三"
            savepoint = await db.connection.begin_nested()  # the plain value may be written: undone
            try:
                plain = await _send(client, auth, op_id, valid, valid.body)
            finally:
                await savepoint.rollback()
            if plain.status_code == 422 and any(e.get("field") == where for e in plain.json().get("errors", [])):
                continue  # a formatted value (ID number, phone, code): refused whatever it holds
            for value in CRAFTED:
                obj[name] = value
                r = await _send(client, auth, op_id, valid, valid.body)
                errors = r.json().get("errors", []) if r.status_code == 422 else []
                if not any(e.get("field") == where and e.get("code") == "text_forbidden_characters" for e in errors):
                    failures.append(f"{op_id} {where}={value!r}: {r.status_code} {r.text[:200]}")
        finally:
            if had:
                obj[name] = old
            else:
                obj.pop(name, None)
    assert not failures, "\n".join(failures)


async def test_names_refuse_line_breaks_and_multiline_text_keeps_them(client, auth):
    created = await create(client, auth, members=[person("head", name=NAMES[0])])
    h = auth("village_staff.village")
    pid = created["members"][0]["id"]
    for value in SINGLE_LINE_ONLY:
        r = await client.patch(f"/api/v1/persons/{pid}", json={"name": value}, headers={**h, "If-Match": "*"})
        assert r.status_code == 422, (value, r.text)
        error = r.json()["errors"][0]
        assert (error["field"], error["code"]) == ("name", "text_forbidden_characters")
        assert "不可见" in error["message"] or "control" in error["message"].lower()
    # A risk clue's evidence is several lines; CR LF from a text box becomes LF.
    r = await client.post(
        "/api/v1/risk-clues",
        headers=auth(WRITER),
        json={
            "household_id": created["id"],
            "channel": "visit",
            "risk_types": ["other"],
            "evidence": "户主住院。\r\n\t医药费约三万元。",
            "attachments": [],
        },
    )
    assert r.status_code == 201, r.text
    clue = await client.get(r.headers["location"], headers=auth(WRITER))
    assert clue.json()["reports"][0]["evidence"] == "户主住院。\n\t医药费约三万元。"


@pytest.mark.parametrize("name", NAMES)
async def test_ordinary_names_pass(client, auth, name):
    created = await create(client, auth, members=[person("head", name=name)])
    assert created["members"][0]["name"] == name
    assert created["head_name"] == name


def test_the_character_rules():
    for value in CRAFTED:
        assert forbidden_character(value) and forbidden_character(value, multiline=True)
    for value in SINGLE_LINE_ONLY:
        assert forbidden_character(value)
    assert forbidden_character("一\n二\t三", multiline=True) is None
    assert forbidden_character("一\r二", multiline=True) == "\r"
    for name in [*NAMES, "O'Brien", "李 明", "（测试）", "😀"]:
        assert forbidden_character(name) is None, name
    with pytest.raises(ValueError, match="text_forbidden_characters"):
        checked_text({"好": ["ok", "bad\u202e"]})
    with pytest.raises(ValueError, match="text_forbidden_characters"):
        checked_text({"bad\u200bkey": "ok"})


async def test_a_lone_surrogate_is_refused_like_a_hidden_character(client, auth):
    """JSON can escape half a surrogate pair ("\\ud800"): no text, and not storable as UTF-8."""
    created = await create(client, auth, members=[person("head", name=NAMES[0])])
    h = auth("village_staff.village")
    path = f"/api/v1/persons/{created['members'][0]['id']}"
    etag = (await client.get(path, headers=h)).headers["etag"]
    r = await client.patch(
        path, content=b'{"name": "\\u5f20\\ud800"}', headers={**h, "If-Match": etag, "Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "name"  # (the JSON reader refuses it: string_unicode)
    assert forbidden_character("张\ud800") == "\ud800"  # and so does the text rule, for any other way in
