"""API keys, scopes and tenants: who is calling and what they may see."""
