"""Ledgers out (台账导出): a list declared once as columns (a Chinese header and a value
function each) and written as XLSX or CSV a batch of rows at a time (``writer``)."""
