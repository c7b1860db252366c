"""CooPy's terminal UI (Textual): a live panel per stage, log tails, keyboard control."""
