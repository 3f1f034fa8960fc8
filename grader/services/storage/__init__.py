"""Content-addressed blobs (notebooks, rendered pages) and assignment packages as zip blobs."""
