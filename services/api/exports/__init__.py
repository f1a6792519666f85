"""Ledgers out: every list a township keeps on paper, as XLSX or CSV (``router``)."""
