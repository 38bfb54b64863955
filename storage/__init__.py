"""innobot's store: typed SQLAlchemy models, the async engine, query functions and migrations."""
