"""Running and watching the bridge: the CLI, process entry points, ``check``, the demo, metrics, logs."""
