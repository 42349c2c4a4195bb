"""The collect stage: one batch of feeds → fetches, feed states, articles (no database writes)."""
