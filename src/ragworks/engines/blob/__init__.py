"""Blob storage for uploaded files."""
