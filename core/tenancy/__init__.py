"""Tenancy: organizations, users and their tokens, API keys, who a caller is (principals),
what an organization's requests need to know about it (context), and the hub functions a
principal may call."""
