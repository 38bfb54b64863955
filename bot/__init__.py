"""innobot's application shell: settings, command line, wiring, platform adapters and delivery."""
