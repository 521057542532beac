"""The command line: the Typer app and its entry point (`app`), the commands, thin
(`commands`), every option declared once (`options`), a run's life cycle (`run`), what
people see (`render`, `console`) and signals (`interrupts`). The only part of rnncast that
exits; the core never imports it."""
