// The `VMM` module; see README.md for what it does.
