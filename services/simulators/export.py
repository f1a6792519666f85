"""A department's records as the spreadsheet it would send instead of an API.

Layout (what the import must cope with): row 1 a title such as
"清溪县民政局社会救助对象名单（2026年11月）", row 2 blank, row 3 the Chinese headers below,
then one row per record. Values are text (ID numbers must never become numbers), empty
for none; booleans 是/否 (家庭医生签约 as the department writes it: 已签约/未签约). The ID numbers keep the department's problems (full-width
digits, spaces, 15-digit numbers …). CSV is UTF-8 with a BOM (as Excel writes it); XLSX
has one sheet.

Headers per department (record field → header):

civil-affairs (民政)        medical-insurance (医保)        education (教育)
  jzid  记录编号               key          记录编号             xjh    学籍号
  sfzh  身份证号               type         记录类型 (参保/结算)  sfzjh  身份证件号
  xm    姓名                   id_no        身份证号             xsxm   学生姓名
  jzlx  救助类型               name         姓名                 xq     学期
  dbfl  低保类别               year         年度                 xxmc   学校名称
  ksrq  开始日期               insured      是否参保             xd     学段
  jsrq  结束日期               scheme       险种                 xjzt   学籍状态
  yje   月救助金额             status       参保状态             zzlx   资助类型
  zt    状态                   death_date   死亡日期             zzje   资助金额
  tbyy  停保原因               family_doctor 家庭医生签约
  swrq  死亡日期               settled_on   结算日期
  jtrks 家庭人口数             hospital     医疗机构
  gxsj  更新时间               total_cost   医疗总费用
                               out_of_pocket 个人自付费用
                               updated_at   更新时间
housing (住建): fwbh 鉴定编号, hzsfzh 户主身份证号, hzxm 户主姓名, jddj 鉴定等级 (A级 … D级危房),
  jdrq 鉴定日期, fwdz 房屋地址, gzzt 改造状态 (未改造/已改造), jgrq 竣工日期, gxsj 更新时间
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from services.core.sync.headers import export_header
from services.simulators import paging
from services.simulators.records import Deriver
from services.simulators.registry import Registry

# Record field → the canonical field it is (as the built-in sources.toml maps the API's
# names); the header written is the canonical field's first standard header, the one the
# import reads first (``services.core.sync.headers``): one table, so they cannot drift.
FIELDS: dict[str, list[tuple[str, str]]] = {
    "civil-affairs": [
        ("jzid", "record_id"),
        ("sfzh", "id_number"),
        ("xm", "name"),
        ("jzlx", "benefit"),
        ("dbfl", "dibao_class"),
        ("ksrq", "start_date"),
        ("jsrq", "end_date"),
        ("yje", "amount"),
        ("zt", "status"),
        ("tbyy", "stop_reason"),
        ("swrq", "death_date"),
        ("jtrks", "household_size"),
        ("gxsj", "updated_at"),
    ],
    "medical-insurance": [
        ("key", "record_id"),
        ("type", "record_type"),
        ("id_no", "id_number"),
        ("name", "name"),
        ("year", "year"),
        ("insured", "insured"),
        ("scheme", "scheme"),
        ("status", "status"),
        ("death_date", "death_date"),
        ("family_doctor", "family_doctor"),
        ("settled_on", "settled_on"),
        ("hospital", "hospital"),
        ("total_cost", "total_cost"),
        ("out_of_pocket", "out_of_pocket"),
        ("updated_at", "updated_at"),
    ],
    "education": [
        ("xjh", "record_id"),
        ("sfzjh", "id_number"),
        ("xsxm", "name"),
        ("xq", "term"),
        ("xxmc", "school"),
        ("xd", "stage"),
        ("xjzt", "status"),
        ("zzlx", "aid_kind"),
        ("zzje", "aid_amount"),
    ],
    "housing": [
        ("fwbh", "record_id"),
        ("hzsfzh", "id_number"),
        ("hzxm", "name"),
        ("jddj", "grade"),
        ("jdrq", "appraised_on"),
        ("fwdz", "address"),
        ("gzzt", "renovation"),
        ("jgrq", "renovated_on"),
        ("gxsj", "updated_at"),
    ],
}
HEADERS: dict[str, list[tuple[str, str]]] = {
    kind: [(name, export_header(kind, canonical)) for name, canonical in columns] for kind, columns in FIELDS.items()
}
_TYPES = {"enrolment": "参保", "claim": "结算"}
SHEET_NAMES = {
    "civil-affairs": "社会救助对象",
    "medical-insurance": "参保及结算",
    "education": "学生名单",
    "housing": "农房安全鉴定",
}
_BATCH = 5000


def title(kind: str, county_name: str, deriver: Deriver) -> str:
    month = f"{deriver.today.year}年{deriver.today.month}月"
    return {
        "civil-affairs": f"{county_name}民政局社会救助对象名单（{month}）",
        "medical-insurance": f"{county_name}医疗保障局城乡居民参保及结算明细（{month}）",
        "education": f"{county_name}教育局学生学籍及资助名单（{deriver.term}）",
        "housing": f"{county_name}住房和城乡建设局农村住房安全性鉴定名单（{month}）",
    }[kind]


def cell(field: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if field == "type":
        return _TYPES.get(value, value)
    return str(value)


async def all_records(registry: Registry, deriver: Deriver, county: str) -> AsyncIterator[dict]:
    """Every record of the county, page by page (bounded memory)."""
    if deriver.kind == "medical-insurance":
        since = paging.Since()
        while True:
            items, more = await paging.since_page(registry, deriver, county, since, _BATCH)
            for item in items:
                yield item
            if not more or not items:
                return
            since = paging.Since(datetime.fromisoformat(items[-1]["updated_at"]), items[-1]["key"])
    at: paging.Position | None = paging.START
    while at is not None:
        records, at = await paging.cursor_page(registry, deriver, county, at, _BATCH)
        for rec in records:
            yield rec


async def export(registry: Registry, deriver: Deriver, county: str, target: Path) -> int:
    """Write the county's records to ``target`` (.csv or .xlsx); returns the record count."""
    kind = deriver.kind
    columns = HEADERS[kind]
    heading = title(kind, await registry.county_name(county), deriver)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValueError(f"the export file must end in .csv or .xlsx, not {target.name!r}")

    async def write(append: Callable[[list[Any]], object]) -> int:
        """The same rows for either format: the title, a blank row, the headers, the records."""
        append([heading])
        append([])
        append([header for _, header in columns])
        count = 0
        async for rec in all_records(registry, deriver, county):
            append([cell(field, rec.get(field)) for field, _ in columns])
            count += 1
        return count

    if suffix == ".csv":
        with target.open("w", encoding="utf-8-sig", newline="") as handle:
            return await write(csv.writer(handle).writerow)

    from openpyxl import Workbook

    book = Workbook(write_only=True)  # rows go to disk as they come
    count = await write(book.create_sheet(SHEET_NAMES[kind]).append)
    book.save(target)
    return count
