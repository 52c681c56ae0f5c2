"""Readers that turn feeds, files and platform archives into RawRecords, and the ingest stage."""
