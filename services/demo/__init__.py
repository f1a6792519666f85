"""Synthetic demo county: realistic households, people, income and guarantees.

``generator`` holds the pure, seeded generation; ``loader`` writes it into PostgreSQL with
COPY and creates the demo users.
"""
