"""Poll and diff: read ListTasks for a cluster and turn what changed into logged transitions."""
