"""The kernel: settings, the plugin manager and its hookspecs, the Hub object, the database,
errors, time and the bases of every table. It imports no other layer of the core."""
