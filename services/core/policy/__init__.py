"""Policies: figures that are settings per region and year, not constants (docs/domain.md).

Three domains have one: monitoring (deadlines, the conditions of risk elimination), funds
(shares, milestones, caps, asset checks) and sync (the thresholds of the department
cross-check rules). They work alike, so the mechanism is here once and each domain only
declares its figures:

* ``overrides`` — the mechanism: a ``PolicyTable`` (the table a policy is overridden in and
  the pydantic model of its figures), resolution of the rows by region prefix and year
  (``resolve``, ``effective``), who sees and who changes a row, checking an override's values.
* ``schemas`` — an override row as the routes of every policy take and answer it.
* ``monitoring``, ``funds``, ``sync`` — one module per policy: the model of its figures with
  the seeds' defaults, and its ``TABLE``. A domain reads its policy through
  ``policy_for`` (funds, sync) or ``services.core.monitoring.context.PolicyContext`` (monitoring,
  which resolves many cases against one read of the rows).

The declarations live here rather than in each domain's package so that a domain never
imports another one for its policy (funds used to import monitoring's mechanism), and so
that the three policies can be read side by side. The ORM rows stay with their domains'
models (their tables belong to those domains' migrations).

Process settings (time-outs, retries, pool sizes: ``services.core.settings``) are not
policies: they are per process, not per region and year.
"""
