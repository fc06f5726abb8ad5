"""Parsers: raw log records to flat or ECS-shaped events."""
