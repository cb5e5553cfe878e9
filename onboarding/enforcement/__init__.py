"""Enforcement (DESIGN 4.10): violation reports (API and staff form), the immediate freeze, the
investigations compliance works, and their outcomes: dismissal, reinstatement after agreeing to the
risk-control rules, or permanent restriction. Calls the keys and institutions parts explicitly; never
writes their rows."""
