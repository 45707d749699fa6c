"""The git adapter: one persistent clone per pipeline, fetched and checked out for each build."""
