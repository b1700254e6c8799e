"""Domain events: the catalogue and the transactional outbox."""
