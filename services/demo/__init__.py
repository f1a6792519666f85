"""Synthetic demo county: realistic households, people, income, guarantees, monitoring cases,
funds, projects and assets — tooling on top of core, which it imports and never copies.

Generation is pure and seeded:

- ``plan``: villages, the households' sizes and monitoring histories, the chunks;
- ``generator``: households and people (``people``: a member being built, the enum values
  written); ``earnings``: a household's income records;
- ``income``: core's income items, quarterly shares, money in fen, the demo income line;
- ``cases``: monitoring cases along core's state machine; ``names``: vocabularies;
- ``funds``: funds, projects and assets.

Loading: ``layout`` (tables and columns), ``render`` (COPY text), ``streams`` (generation in
worker processes), ``users`` (the demo's accounts), ``loader`` (the load into PostgreSQL).
"""
