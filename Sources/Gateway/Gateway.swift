// The `Gateway` module; see README.md for what it does.
