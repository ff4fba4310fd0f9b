"""Progress reporting for long compiles and solves.

On in an interactive terminal, off in CI and when stderr is not a terminal.  The
environment variable ``SYMGEN_PROGRESS`` overrides the choice (``1`` on, ``0`` off), and
so does an explicit ``progress=True/False`` argument of ``sg.compile`` / ``model.solve``.

Reports go to stderr:

* pipeline stages: one line per stage with its time once it ends (stages that finish in
  under ``QUIET_SECONDS`` are not shown unless the whole compile is long);
* work inside a stage (e.g. shards being built): a line rewritten in place, at most
  every ``INTERVAL`` seconds;
* solves: the compiled drivers call back every few steps (through Numba's object mode,
  only when reporting is on) with ``t`` and the step count; the line shows the fraction
  of the time span covered, steps and elapsed wall time.
"""
from __future__ import annotations

import os
import sys
import time

__all__ = ["enabled", "Progress", "solve_reporter", "NULL"]

INTERVAL = 0.5        # seconds between two in-place updates
QUIET_SECONDS = 0.2   # stages shorter than this are not reported


def enabled(flag: bool | None = None) -> bool:
    """Whether to report: ``flag`` if given, else ``SYMGEN_PROGRESS``, else on only in an
    interactive terminal outside CI."""
    if flag is not None:
        return bool(flag)
    env = os.environ.get("SYMGEN_PROGRESS", "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Reporter of one compile or solve (``label`` names the model)."""

    def __init__(self, label: str, on: bool, stream=None):
        self.label = label
        self.on = on
        self.stream = stream if stream is not None else sys.stderr
        self.t0 = time.perf_counter()
        self._last = 0.0
        self._inline = False

    def _write(self, text: str, inline: bool) -> None:
        if self._inline and not inline:
            self.stream.write("\n")
        self.stream.write(("\r" if inline else "") + text + ("" if inline else "\n"))
        self.stream.flush()
        self._inline = inline

    def start(self, name: str) -> None:
        """A pipeline stage begins (shown in place until it ends)."""
        if self.on:
            self._write(f"[symgen] {self.label}: {name} ...", True)

    def stage(self, name: str, seconds: float) -> None:
        """A pipeline stage ended after ``seconds``."""
        if not self.on:
            return
        if seconds >= QUIET_SECONDS:
            self._write(f"[symgen] {self.label}: {name} {seconds:.2f} s "
                        f"(total {time.perf_counter() - self.t0:.1f} s)", True)
            self.stream.write("\n")
        else:
            self.stream.write("\r\033[K")
        self.stream.flush()
        self._inline = False

    def update(self, what: str, done: int, total: int) -> None:
        """``done`` of ``total`` units of ``what`` finished (rate limited)."""
        if not self.on:
            return
        now = time.perf_counter()
        if done < total and now - self._last < INTERVAL:
            return
        self._last = now
        self._write(f"[symgen] {self.label}: {what} {done}/{total} "
                    f"({now - self.t0:.1f} s)", True)
        if done >= total:
            self.stream.write("\n")
            self._inline = False

    def done(self, text: str) -> None:
        if self.on:
            self._write(f"[symgen] {self.label}: {text} ({time.perf_counter() - self.t0:.1f} s)", False)


#: A reporter that reports nothing.
NULL = Progress("", False)

# The compiled drivers call ``solve_report(t, steps)`` from object mode; the active solve
# reporter is module state because Numba can only call globals from there.
_active: list = []


def solve_reporter(label: str, t0: float, tf: float, on: bool) -> "SolveProgress":
    return SolveProgress(label, t0, tf, on)


class SolveProgress(Progress):
    """Context manager active around one driver call."""

    def __init__(self, label, t0, tf, on):
        super().__init__(label, on)
        self.ta, self.tb = float(t0), float(tf)

    def __enter__(self):
        _active.append(self)
        return self

    def __exit__(self, *exc):
        _active.remove(self)
        if self.on and self._inline:
            self.stream.write("\n")
            self.stream.flush()
            self._inline = False
        return False

    def report(self, t: float, steps: int) -> None:
        now = time.perf_counter()
        if now - self._last < INTERVAL:
            return
        self._last = now
        span = self.tb - self.ta
        frac = (t - self.ta) / span if span != 0 else 1.0
        self._write(f"[symgen] {self.label}: t = {t:.6g} ({100 * frac:.1f}% of the span), "
                    f"{steps} steps, {now - self.t0:.1f} s", True)


def solve_report(t: float, steps: int) -> None:
    """Called by the compiled drivers (object mode) every few steps when reporting."""
    if _active:
        _active[-1].report(t, steps)
