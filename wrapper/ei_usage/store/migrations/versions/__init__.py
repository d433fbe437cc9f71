"""The store's schema revisions, oldest first (``0001_initial`` is revision 1)."""
