"""The sync worker: the process that pulls the department sources (HTTP and spreadsheets) on
their schedules, stages their records, reconciles them with the registry and runs the daily
checks. The rules it applies are the sync domain's (``services.core.sync``), which the API's
sync routes (``services.api.sync``) share; this package holds only what the worker process does."""
