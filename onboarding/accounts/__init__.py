"""Accounts: users, institutions, staff roles, sign-in, MFA, password reset."""
