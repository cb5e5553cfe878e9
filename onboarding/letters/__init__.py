"""Approval letters: rendered to PDF on approval, stored with their hash, verifiable by a public code."""
