// The `API` module; see README.md for what it does.
