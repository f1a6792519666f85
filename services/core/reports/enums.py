from __future__ import annotations

from services.core.labels import LabelledEnum


class ReportKind(LabelledEnum):
    """A township report's period 报表类型."""

    monthly = "monthly", "乡镇月报"
    quarterly = "quarterly", "乡镇季报"


class ReportFormat(LabelledEnum):
    """The answer's format 报表格式."""

    json = "json", "JSON 数据"
    xlsx = "xlsx", "Excel 工作簿（.xlsx），中文表头"
