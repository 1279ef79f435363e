"""query subpackage."""
