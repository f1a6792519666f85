"""Simulated department systems (民政, 医保, 教育) for the sync worker to pull from.

``guardline simulate civil-affairs|medical-insurance|education --port P`` runs one as an
HTTP server (``app``); ``launch.spawn`` starts one as a child process; ``--export FILE``
writes the same records as a spreadsheet (``export``). Nothing here imports the API or the
worker: a simulator only reads the registry of the database the settings point at.

Data. Persons of the requested county are read in ``persons.id`` order (``registry``),
and each person's records are derived by draws keyed with (seed, department, person id)
(``records``), so a page is a pure function of its cursor and the registry. Civil affairs
knows few persons: whom it may know is decided by MD5 draws that the registry query
computes too, so it reads only those (``registry._CIVIL_CANDIDATES``).

- civil affairs: households flagged dibao get 低保 (with its class 一类/二类/三类), tekun
  households 特困; ~1 % of households neither flagged nor monitored get a 低保 granted in
  the last three months (``--unmonitored-dibao-rate``); ~2 % of the others 低保边缘; ~1 %
  of persons 临时救助 (one-off, the amount in ``yje``); a few children 孤儿; ~3 % of the
  flagged 低保 stopped for 收入超过标准. Record holders the registry has alive are reported
  dead (停保, tbyy 死亡, swrq) at ``--death-rate``; the registry's dead are dead here too.
  Every record carries the household's size (jtrks 家庭人口数: its living members), one
  more or one less in ~1 % of households (``--household-size-rate``).
- medical insurance: one enrolment per person for the current year (~1.5 % 未参保,
  ``--not-insured-rate``; 死亡注销 at ``--death-rate`` for persons alive in the registry);
  claims for ~5 % of persons (×4 in households flagged serious_illness), and at
  ``--large-cost-rate`` a claim whose out-of-pocket cost exceeds both 10,000 yuan and the
  household's latest yearly net income. All of a person's records have
  ``updated_at = 1 January 00:00 +08:00 + person id seconds``.
- education: persons aged 6–22 with a schooling status (alive), current term; the
  registry's dropped_out / suspended are 辍学 / 休学; ~1 % of other compulsory-age (6–15)
  pupils 辍学 (``--dropout-rate``); some 转学, 毕业; aid 营养改善计划 (小学/初中) and
  国家助学金 (高中/中职/高校, mostly for poor households).

Problems mixed into all three (shares of persons, drawn per person, so every record of a
person has the same defects; options ``--<name>-rate``):

- ``bad-check`` (0.3 %): the ID number's last character is wrong;
- ``old-id`` (0.5 %): persons born 1900–1999 carry the old 15-digit number (2-digit year,
  no check character);
- ``messy-id`` (1 %): full-width digits, a lower-case x, spaces around or inside the
  number, or a trailing full-width space (U+3000);
- ``unknown`` (0.5 %): an extra record of someone not in the registry (a valid number
  with another county's address code), right after the host person's records
  (keys ``MZ<id>99``, ``CB<year><id>U``, ``XW<id>``);
- ``name-mismatch`` (0.3 %): the last character of the name differs from the registry's;
- ``malformed-record`` (0.2 %): one defect per record that a worker must quarantine: the ID
  number missing (null), an impossible date (``<last year>-02-30`` in ksrq / death_date /
  settled_on), an amount ``"abc"`` (yje / out_of_pocket / total_cost / zzje), an unknown
  value (jzlx ``五保``, enrolment status ``参保中断``, xjzt ``在籍``, xd ``幼儿园``). Keys and
  ``updated_at`` are never malformed (paging depends on them).

Faults (server misbehaviour on the data endpoints only, drawn per request from
``--fault-seed``): ``--fail-rate`` (500, 502 with an HTML body, 503), ``--rate-limit N``
(429 with ``Retry-After: --retry-after``), ``--slow-rate``/``--slow-ms``,
``--truncate-rate`` (a 200 whose JSON stops half-way), ``--malformed-rate`` (a 200 HTML
page, or JSON without the records key), ``--repeat-cursor-rate`` (the next cursor is the
request's own one — the start's for a first page; medical insurance: the page before the
requested position again, with has_more true). With ``--control`` they can be changed at
run time (``POST /_control/faults``), ``GET /_control/stats`` counts answers per status,
``POST /_control/expire-tokens`` invalidates every issued token.
"""
