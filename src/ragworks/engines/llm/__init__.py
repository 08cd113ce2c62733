"""LLM port and adapters: llamacpp, openai, extractive."""
