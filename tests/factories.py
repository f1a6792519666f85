"""Test data: regions, users and valid ID numbers. Split by domain as suites grow."""

from __future__ import annotations

import itertools
from datetime import date

from services.core.accounts.roles import Role
from services.core.idnumber import check_character

COUNTY = "529901"
TOWNSHIP = "529901001"
VILLAGE = "529901001001"
VILLAGE_2 = "529901001002"
OTHER_TOWNSHIP_VILLAGE = "529901002001"
OTHER_COUNTY_VILLAGE = "529902001001"

REGIONS = {
    "520000000000": "贵州省",
    "529900000000": "青山市",
    "529901000000": "清溪县",
    "529901001000": "石门镇",
    "529901001001": "白岩村",
    "529901001002": "青杠村",
    "529901002000": "龙潭镇",
    "529901002001": "水井村",
    "529902000000": "远山县",
    "529902001000": "松林镇",
    "529902001001": "松林村",
}

# username -> (role, region prefix). One user per role in county A, township A1, village A1a,
# and staff of the other county.
USERS: dict[str, tuple[Role, str]] = {}
for role in Role:
    USERS[f"{role.value}.county"] = (role, COUNTY)
    USERS[f"{role.value}.township"] = (role, TOWNSHIP)
    USERS[f"{role.value}.village"] = (role, VILLAGE)
USERS["county_staff.other"] = (Role.county_staff, "529902")
# Provincial staff (省级): the only level that may set the province's monitoring income line.
USERS["county_staff.province"] = (Role.county_staff, "52")
USERS["village_staff.village2"] = (Role.village_staff, VILLAGE_2)

_seq = itertools.count(1)


def id_number(born: date = date(1980, 5, 17), male: bool = True, area: str = COUNTY) -> str:
    """A fresh valid ID number (unique within the test session)."""
    n = next(_seq)
    sequence = (n * 2 + (1 if male else 0)) % 1000
    first17 = f"{area}{born:%Y%m%d}{sequence:03d}"
    # Vary the area's last digits too so more than 500 numbers per birth date exist.
    first17 = first17[:4] + f"{(n // 500) % 100:02d}" + first17[6:]
    return first17 + check_character(first17)


def person(relation: str = "head", **kw) -> dict:
    born = kw.pop("born", date(1975, 3, 8) if relation in ("head", "spouse") else date(2012, 9, 1))
    male = kw.pop("male", relation == "head")
    body = {
        "id_number": id_number(born, male),
        "name": kw.pop("name", "张三" if male else "李梅"),
        "relation": relation,
        "labour_capacity": "ordinary" if relation in ("head", "spouse") else "none",
        "medical_insurance": True,
    }
    body.update(kw)
    return body


def household(region: str = VILLAGE, members: list[dict] | None = None, **kw) -> dict:
    body = {
        "region_code": region,
        "category": "lifted_out",
        "members": members
        if members is not None
        else [person("head"), person("spouse", name="王芳"), person("child", name="张小明", male=True)],
    }
    body.update(kw)
    return body


def code_of(response) -> str:
    """The most specific problem code: the first field error's for a 422, else the problem's."""
    body = response.json()
    if response.status_code == 422 and body.get("errors"):
        return body["errors"][0]["code"]
    return body["code"]
