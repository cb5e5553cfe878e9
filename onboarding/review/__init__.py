"""Staff review: application lists and the case page (queues and decisions grow here)."""
