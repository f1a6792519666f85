"""Raw SQL of the accounts domain: the lookups behind every token check, run on the driver
connection of the read pool (``Database.fetch_row``) because they run once a request. Users
and clients are not regional rows (their ``region_prefix`` is what they may see), so there
are no region bounds to add."""

from __future__ import annotations

# The account behind a token (``service.read_account``); $1 is the numeric id of the principal.
USER = "SELECT role, region_prefix, must_change_password FROM users WHERE id = $1 AND active"
CLIENT = "SELECT permissions, region_prefix FROM api_clients WHERE id = $1 AND active AND revoked_at IS NULL"
# The database's clock (revocations are dated by it, not by this process's).
DB_NOW = "SELECT extract(epoch FROM now())"
