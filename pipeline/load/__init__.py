"""The load stage: a cycle's staged tables → the database, in one transaction."""
