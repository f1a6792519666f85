"""Department data (部门信息比对): sources, staging, quarantine, reconciliation, findings.

Shared by the sync worker (which pulls and reconciles) and the API (which shows runs,
findings and quarantine, and queues runs). The flow:

    source (HTTP pull or spreadsheet) → ``normalise`` (one record at a time: mapped fields,
    ID number, types) → ``staging`` (a page per transaction: records by source + external
    key, unchanged ones skipped by hash, bad ones quarantined, the cursor committed with the
    page) → ``reconcile`` (set-based: match by ID number, apply ``rules``, merge findings,
    raise risk clues).
"""
