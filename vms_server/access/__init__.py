"""Access-control grants (a badge accepted at a door) that the tailgating model counts people against."""
