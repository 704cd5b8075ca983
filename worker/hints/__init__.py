"""EventBridge events as a poll-now hint: ``POST /eventbridge`` asks for an early poll."""
