"""Checks on the vendor's documents: security.txt, disclosure policy, support period, statements."""
