"""The plugin system: hook specifications, the manager, and the interfaces corpus and output plugins implement."""
