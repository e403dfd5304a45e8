// The `HTTPProxy` module; see README.md for what it does.
