"""The ``/ehpc`` Slack app: signature check, listeners, answers from Redis, access policy, the server."""
