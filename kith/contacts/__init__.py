"""Contacts: people, their details, duplicates, merges, search and timeline."""
