"""E-mail outbox and delivery. A sink: any module may queue e-mail; it imports no feature module."""
