"""embed subpackage."""
