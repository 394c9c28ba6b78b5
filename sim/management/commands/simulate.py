"""python manage.py simulate: a simulated city day through the public API (docs/simulation.md)."""

import asyncio
import io
import logging
import secrets
import signal
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sim import report as report_module
from sim.model import DEFAULT_UNITS, parse_units
from sim.simulation import Simulation


def _hhmm(seconds):
    seconds = int(seconds)
    return f"{seconds // 86400}d {seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}"


class Command(BaseCommand):
    help = "Drive a simulated city day through a running instance's public API and write a report."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the running instance")
        parser.add_argument("--operator-token", help="an operator's API token (operators log the calls)")
        parser.add_argument("--supervisor-token", help="a supervisor's API token (fleet, history, journal)")
        parser.add_argument("--local", action="store_true",
                            help="create the operator and supervisor accounts sim-operator / sim-supervisor in "
                                 "this settings' database (the instance's) and use their new tokens")
        parser.add_argument("--duration", type=float, default=60.0, help="simulated minutes of arrivals (60)")
        parser.add_argument("--speed", type=float, default=1.0, help="time compression: 1 real time, 24 a day an hour")
        parser.add_argument("--seed", type=int, default=1, help="the same seed gives the same calls and crews")
        parser.add_argument("--report", default="sim-report", help="directory for report.json and report.html")
        parser.add_argument("--units", default=",".join(f"{k}={v}" for k, v in DEFAULT_UNITS.items()),
                            help="police=N,medical=N,fire=N,utility=N, or a file holding that or a JSON object")
        parser.add_argument("--calls-per-day", type=float, default=2000.0, help="daily volume of the profile (2000)")
        parser.add_argument("--start-hour", type=float, default=0.0, help="simulated time of day at the start (0)")
        parser.add_argument("--drain", type=float, default=120.0,
                            help="simulated minutes the crews get to finish after the last call (120)")
        parser.add_argument("--no-progress", action="store_true", help="no progress line (logs, CI)")

    def handle(self, *args, **opts):
        if opts["speed"] <= 0 or opts["duration"] <= 0 or opts["calls_per_day"] <= 0:
            raise CommandError("--speed, --duration and --calls-per-day must be positive")
        try:
            units = parse_units(opts["units"])
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        operator, supervisor = opts["operator_token"], opts["supervisor_token"]
        if opts["local"]:
            operator = self._account("sim-operator", "operator")
            supervisor = self._account("sim-supervisor", "supervisor")
        if not operator or not supervisor:
            raise CommandError("give --operator-token and --supervisor-token, or --local")
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
        sim = Simulation(
            base_url=opts["base_url"], operator_token=operator, supervisor_token=supervisor,
            duration_min=opts["duration"], speed=opts["speed"], seed=opts["seed"], units=units,
            calls_per_day=opts["calls_per_day"], start_hour=opts["start_hour"], drain_min=opts["drain"],
        )
        console = Console(file=sys.stderr)
        progress = None if opts["no_progress"] else Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
            transient=False)
        task_id = progress.add_task("starting", total=sim.duration_s) if progress else None

        def show(sim, now, waiting, open_calls, busy):
            clock = _hhmm(sim.start_hour * 3600 + now)
            busy_text = " ".join(f"{s[0].upper()}{busy.get(s, 0)}/{n}" for s, n in sim.units.items() if n)
            progress.update(task_id, completed=min(now, sim.duration_s), description=(
                f"{clock}  calls {len(sim.stats.calls)}/{len(sim.schedule)}  open {open_calls}  "
                f"waiting {waiting}  busy {busy_text}"))

        sim.progress = show if progress else None
        back = asyncio.run(self._run(sim, progress))
        out = report_module.write(sim, back, opts["report"])
        checks = out["checks"]
        self.stdout.write(
            f"calls sent {out['calls_sent']}, stored {out['calls_stored']}, double-assigned "
            f"{out['double_assigned']}, not ended {out['calls_not_ended']}, events missed {out['events_missed']} "
            f"of {out['events_journal']}; report in {opts['report']}/report.html")
        if not all(checks.values()):
            self.stderr.write("integrity checks failed: " + ", ".join(k for k, v in checks.items() if not v))

    async def _run(self, sim, progress):
        loop = asyncio.get_running_loop()

        def interrupt():
            # First Ctrl+C: no new calls, wind down (cancel open calls, crews off duty), report.
            # Second: skip the wind-down, report what was seen.
            if sim.stop.is_set():
                sim.abort.set()
            sim.stop.set()
            sim.stats.interrupted = True

        loop.add_signal_handler(signal.SIGINT, interrupt)
        loop.add_signal_handler(signal.SIGTERM, interrupt)
        try:
            if progress:
                with progress:
                    return await sim.run()
            return await sim.run()
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)

    def _account(self, name, role):
        """A new token for the account (created when missing) through create_account."""
        out = io.StringIO()
        call_command("create_account", name, role=role, password=secrets.token_urlsafe(18), stdout=out)
        return out.getvalue().strip().splitlines()[-1]
