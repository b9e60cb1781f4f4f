"""Business rules of the service hall as pure functions: no I/O, no clock, no database."""
