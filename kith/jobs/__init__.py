"""Background jobs: Huey wakes workers; the job row in the database is the truth."""
