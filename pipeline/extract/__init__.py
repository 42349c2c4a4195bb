"""The extract stage: feed bytes → entries, page bytes → article text, in worker processes."""
