"""Dispatch and deliver: from the outbox to each destination, in order, exactly once, within budgets."""
