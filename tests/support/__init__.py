"""Test helpers: real receivers, real servers, real databases."""
