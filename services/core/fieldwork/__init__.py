"""Field work the seeds ask of townships every month: the roster of information officers and
grid workers (防止返贫监测信息员, 网格员; seed 004 §17), the screening campaigns (大走访、大排查,
seed 004 §18) and the village-based teams' attendance (驻村工作队, seed 004 §6).
See docs/field-work.md."""
