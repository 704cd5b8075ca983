"""What the bridge is told: environment settings, the ``EHPC_CONFIG`` file and the clusters to watch."""
