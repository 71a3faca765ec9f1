"""Tests of the receiver kit (hookline.receiver): verification, de-duplication, helpers."""
