"""Content-addressed blobs (notebooks, rendered pages) and assignment packages stored as zip blobs."""
