"""dualopt_mm."""
