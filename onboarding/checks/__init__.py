"""Automated checks of an application (DESIGN 4.3): the plan, the runner job and the results."""
