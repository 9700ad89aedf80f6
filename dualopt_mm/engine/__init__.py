"""mmengine glue: everything here registers into mmengine's root registries on import."""
