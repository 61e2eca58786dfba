// Empty: lets main.go declare runtime.nanotime (go:linkname) without a body.
