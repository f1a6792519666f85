"""Department data (部门信息比对): sources, staging, quarantine, reconciliation, findings.

Shared by the sync worker (which pulls and reconciles) and the API (which shows runs,
findings and quarantine, and queues runs). The flow:

    source (HTTP pull or spreadsheet) → ``normalise`` (one record at a time: mapped fields,
    ID number, types) → ``staging`` (a page per transaction: records by source + external
    key, unchanged ones skipped by hash, bad ones quarantined, the cursor committed with the
    page) → ``reconcile`` (set-based: match by ID number, apply ``rules``, merge findings,
    raise risk clues).

A run's row (``sync_runs``) is written only by ``runs``, whoever drives the run (API,
worker, import, registry check). Raw SQL is in ``queries`` (the worker's own in
``services.worker.queries``), except the rules' SELECTs, which stay beside their rules; SQL
over the registry's regional rows carries ``services.core.scope.region_sql``'s bounds.
"""
