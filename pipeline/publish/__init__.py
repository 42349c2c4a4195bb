"""What analysts get: search, the report and its charts, in their words."""
