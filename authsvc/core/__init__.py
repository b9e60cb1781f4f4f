"""Protocol logic with no I/O: no sockets, no clocks, no sleeping. Time is always passed in."""
