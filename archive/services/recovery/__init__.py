"""Recovery: read a package from storage alone, settle what a crash left, rebuild the catalog."""
