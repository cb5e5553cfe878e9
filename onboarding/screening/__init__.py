"""Sanctions lists (import, snapshots), name matching, screening hits, linked-applicant signals, risk score."""
