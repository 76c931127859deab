"""The actions: one module per kind of work, each declaring its task kinds in `KINDS` (see tasks.kinds)."""
