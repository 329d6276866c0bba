"""daiban: the workflow engine of a county's three-tier proxy service for residents."""
