"""The spreadsheet headers departments write for each canonical field, per source kind.

One table for both directions: the import (``Normaliser``) reads every header listed
here, besides the names a source's configuration gives; the simulators' spreadsheet export
(``services.simulators.export``) writes the first header of each field. So what Guardline
writes, Guardline reads — the two cannot drift apart.

Headers are compared as ``normalise.header_key`` compares them (full-width folded to
half-width, spaces removed, case-folded), so "身份证号码 " and "身份证号码" are one entry.
A header must name one field of its kind only (a test checks); a field of a kind that has
no entry here is read through the configuration only.
"""

from __future__ import annotations

from services.core.sync.enums import SourceKind

# Fields every kind has; a kind's own table may put another header first (the one its
# export writes), and adds its own.
_COMMON: dict[str, tuple[str, ...]] = {
    "id_number": (
        "身份证号",
        "身份证号码",
        "公民身份号码",
        "公民身份证号码",
        "证件号码",
        "身份证件号",
        "身份证件号码",
        "证件号",
        "身份证",
    ),
    "name": ("姓名", "人员姓名"),
    "updated_at": ("更新时间", "修改时间", "最后更新时间"),
}

STANDARD_HEADERS: dict[SourceKind, dict[str, tuple[str, ...]]] = {
    SourceKind.civil_affairs: {
        "record_id": ("记录编号", "救助编号", "救助记录编号", "业务编号"),
        "id_number": _COMMON["id_number"],
        "name": ("姓名", "救助对象姓名", "保障对象姓名", "人员姓名"),
        "benefit": ("救助类型", "救助类别", "保障类型", "保障类别", "救助项目"),
        "dibao_class": ("低保类别", "低保分类", "低保档次"),
        "start_date": ("开始日期", "起始日期", "享受开始时间", "享受开始日期", "开始享受日期", "开始时间"),
        "end_date": ("结束日期", "终止日期", "享受结束时间", "享受结束日期", "结束时间"),
        "amount": ("月救助金额", "救助金额", "保障金额", "月保障金额", "月保障金"),
        "status": ("状态", "保障状态", "救助状态"),
        "stop_reason": ("停保原因", "注销原因", "退出原因", "终止原因", "停发原因"),
        "death_date": ("死亡日期", "死亡时间"),
        "household_size": ("家庭人口数", "家庭人口", "户人口数", "保障人数", "共同生活家庭成员人数"),
        "updated_at": _COMMON["updated_at"],
    },
    SourceKind.medical_insurance: {
        "record_id": ("记录编号", "结算编号", "业务编号", "就诊结算编号"),
        "record_type": ("记录类型", "业务类型"),
        "id_number": _COMMON["id_number"],
        "name": ("姓名", "参保人姓名", "人员姓名"),
        "year": ("年度", "参保年度", "结算年度"),
        "insured": ("是否参保", "参保标志"),
        "scheme": ("险种", "险种类型", "参保险种"),
        "status": ("参保状态", "人员参保状态"),
        "death_date": ("死亡日期", "死亡时间"),
        "family_doctor": ("家庭医生签约", "是否签约家庭医生", "签约状态"),
        "settled_on": ("结算日期", "结算时间"),
        "hospital": ("医疗机构", "就诊医院", "医疗机构名称", "定点医疗机构", "就诊机构"),
        "total_cost": ("医疗总费用", "总费用", "医疗费用总额", "费用总额"),
        "out_of_pocket": (
            "个人自付费用",
            "个人自付",
            "个人负担",
            "自付金额",
            "个人自付金额",
            "个人负担金额",
            "个人负担费用",
        ),
        "updated_at": _COMMON["updated_at"],
    },
    SourceKind.education: {
        "record_id": ("学籍号", "全国学籍号", "学籍编号"),
        "id_number": ("身份证件号", *(h for h in _COMMON["id_number"] if h != "身份证件号")),
        "name": ("学生姓名", "姓名"),
        "term": ("学期", "学年学期"),
        "school": ("学校名称", "学校", "就读学校"),
        "stage": ("学段", "就读学段"),
        "status": ("学籍状态", "在校状态"),
        "aid_kind": ("资助类型", "资助项目"),
        "aid_amount": ("资助金额",),
    },
    SourceKind.housing: {
        "record_id": ("鉴定编号", "房屋编号", "鉴定报告编号", "农房编号"),
        "id_number": ("户主身份证号", "户主身份证号码", *_COMMON["id_number"]),
        "name": ("户主姓名", "姓名", "户主"),
        "grade": ("鉴定等级", "危房等级", "房屋安全等级", "安全等级"),
        "appraised_on": ("鉴定日期", "鉴定时间"),
        "address": ("房屋地址", "住址", "地址"),
        "renovation": ("改造状态", "是否改造", "危改状态"),
        "renovated_on": ("竣工日期", "改造完成日期", "验收日期"),
        "updated_at": _COMMON["updated_at"],
    },
    SourceKind.generic: {
        "id_number": _COMMON["id_number"],
        "name": _COMMON["name"],
    },
}


def standard_headers(kind: SourceKind, canonical: str) -> tuple[str, ...]:
    """The headers of ``canonical`` in spreadsheets of ``kind`` (none: an empty tuple)."""
    return STANDARD_HEADERS.get(kind, {}).get(canonical, ())


def export_header(kind: SourceKind | str, canonical: str) -> str:
    """The header an export writes for ``canonical``: the first the import reads."""
    headers = standard_headers(SourceKind(kind), canonical)
    if not headers:
        raise KeyError(f"no spreadsheet header for {canonical} of {kind}")
    return headers[0]
