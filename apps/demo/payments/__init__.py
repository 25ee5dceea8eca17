"""Synthetic card-payment deliveries for the payments ELT: see generator.py."""
