"""A student's submissions: accepting an upload, the feedback on it,
and where they stand per assignment."""
