"""Companies: organizations contacts work at, auto-linked by email domain."""
