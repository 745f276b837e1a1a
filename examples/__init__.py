"""Examples of using this project from outside ``src`` (see ``docs/tasks.md``)."""
