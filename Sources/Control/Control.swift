// The `Control` module; see README.md for what it does.
