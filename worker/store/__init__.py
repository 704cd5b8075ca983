"""The Redis plumbing every step shares: the one key layout and the Lua scripts."""
