"""Progress of long commands (demo load, imports, sync runs, backup and restore).

The domain functions take an optional callback and call it with a ``Step``: what stage the
work is in, how far it got (``done`` of ``total`` ``unit``, when it can count) and a line
in plain words. They import nothing else from here, and never ``rich``.

The command line turns the steps into output with a ``Reporter``, chosen once per command:

* ``bar``: standard error is a terminal: a ``rich`` progress bar per stage, with the rate
  and the time left (when the total is known), and the plain lines above it;
* ``plain``: no terminal (a log, a pipe, cron): the plain lines on standard error, a counted
  stage at most every few seconds, each with its rate and time left;
* ``json`` (``--json``): nothing on standard error; the command prints one JSON object on
  standard output when it ends (docs/backup.md, "Progress and --json").
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any


@dataclass(frozen=True)
class Step:
    """One report of a long task. ``done``/``total`` count ``unit`` (``total`` is None when
    it is not known beforehand, e.g. the records a department will send); a stage ends with
    ``done == total`` or with ``last``."""

    stage: str
    message: str = ""
    done: int | None = None
    total: int | None = None
    unit: str = ""
    last: bool = False  # the stage's final report (always shown)

    def __str__(self) -> str:
        if self.message:
            return self.message
        if self.done is None:
            return self.stage
        of = f"/{self.total:,}" if self.total is not None else ""
        return f"{self.stage} {self.done:,}{of} {self.unit}".rstrip()


Report = Callable[[Step], object]


def silent(step: Step) -> None:
    """A callback that ignores every step."""


def _duration(value: float) -> str:
    seconds = round(value)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _amount(value: float, unit: str) -> str:
    if unit == "bytes":
        for scale, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if value >= scale:
                return f"{value / scale:.1f} {name}"
        return f"{value:.0f} B"
    return f"{value:,.0f} {unit}".rstrip()


class Reporter:
    """The callback a command hands to the domain functions; use it as a context manager
    (the bar is drawn between ``__enter__`` and ``__exit__``)."""

    PLAIN_EVERY = 5.0  # seconds between two plain lines of one counted stage

    def __init__(self, mode: str, stream: IO[str] | None = None):
        if mode not in ("bar", "plain", "json"):
            raise ValueError(f"unknown progress mode {mode!r}")
        self.mode = mode
        self.stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._started: dict[str, float] = {}
        self._last_line: dict[str, float] = {}

    @classmethod
    def for_command(cls, json_output: bool, stream: IO[str] | None = None) -> Reporter:
        stream = stream if stream is not None else sys.stderr
        if json_output:
            return cls("json", stream)
        isatty = getattr(stream, "isatty", None)
        return cls("bar" if isatty is not None and isatty() else "plain", stream)

    def __enter__(self) -> Reporter:
        if self.mode == "bar":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[amount]}"),
                TextColumn("{task.fields[rate]}"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __call__(self, step: Step) -> None:
        if self.mode == "json":
            return
        now = time.monotonic()
        self._started.setdefault(step.stage, now)
        if self.mode == "bar" and self._bar is not None:
            self._draw(step, now)
        else:
            self._plain(step, now)

    # ---- rate and time left -----------------------------------------------------------

    def _rate(self, step: Step, now: float) -> float | None:
        elapsed = now - self._started[step.stage]
        if step.done is None or elapsed < 0.5:
            return None
        return step.done / elapsed

    def _rate_text(self, step: Step, rate: float | None) -> str:
        if rate is None:
            return ""
        return f"{_amount(rate, step.unit)}/s"

    # ---- the two outputs ----------------------------------------------------------------

    def _draw(self, step: Step, now: float) -> None:
        bar = self._bar
        if step.done is None:  # a stage without counts: its line above the bars
            bar.console.print(str(step), highlight=False)
            return
        task = self._tasks.get(step.stage)
        rate = self._rate_text(step, self._rate(step, now))
        amount = _amount(step.done, step.unit)
        if step.total is not None:
            amount = (
                f"{_amount(step.done, '')}/{_amount(step.total, step.unit)}"
                if step.unit != "bytes"
                else f"{amount}/{_amount(step.total, step.unit)}"
            )
        if task is None:
            task = self._tasks[step.stage] = bar.add_task(step.stage, total=step.total, rate=rate, amount=amount)
        total = step.done if step.last and step.total is None else step.total
        bar.update(task, completed=step.done, total=total, rate=rate, amount=amount)

    def _plain(self, step: Step, now: float) -> None:
        if step.done is None:
            print(str(step), file=self.stream, flush=True)
            return
        finished = step.last or (step.total is not None and step.done >= step.total)
        last = self._last_line.get(step.stage)
        if last is not None and not finished and now - last < self.PLAIN_EVERY:
            return
        self._last_line[step.stage] = now
        rate = self._rate(step, now)
        extra = []
        if step.total:
            extra.append(f"{100 * step.done / step.total:.0f} %")
        if rate:
            extra.append(self._rate_text(step, rate))
            if step.total is not None and not finished:
                extra.append(f"about {_duration((step.total - step.done) / rate)} left")
        tail = f" ({', '.join(extra)})" if extra else ""
        print(f"{step}{tail}", file=self.stream, flush=True)
