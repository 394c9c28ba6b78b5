"""The simulated city day (issue 20): `manage.py simulate` drives a running instance through
its public HTTP and websocket interfaces only, as operators and crews' phones would.

It sits above every other package and imports none of them (.importlinter): what it
knows of the system is what a client knows. docs/simulation.md describes it."""
