"""The database: engine and migrations, the tables, and the reads and writes every stage shares."""
