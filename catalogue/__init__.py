"""What the office publishes, as Baraza serves it by chat: indicators read from SDMX data and
their metadata, concepts and definitions, and the release calendar. No I/O to channels here."""
