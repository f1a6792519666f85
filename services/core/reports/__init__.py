"""Monthly and quarterly township reports (乡镇月报、季报): see docs/reports.md."""
