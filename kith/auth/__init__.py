"""Organizations, users, teams, roles, tokens, API keys, MFA and permissions."""
