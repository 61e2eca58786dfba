# CPython's own threading tests (Debian's libpython3.11-testsuite): the interpreter
# hands its GIL around with a pthread mutex and condvars, and its locks, queues,
# conditions and semaphores sit on sem_t and pthread locks, with timeouts, signals and
# fork. test_import_from_another_thread is left out: it fails here without the shim
# too. Output: regrtest's totals and verdict.
APP_PKGS="python3 libpython3.11-testsuite"
APP_PAIRS=2
app_prepare() {
	TESTS="test_threading test_queue test_thread test_threading_local test_sched test_importlib.test_locks"
}
app_run() {
	app python3 -m test -q -i test_import_from_another_thread $TESTS >"$DIR/regrtest.out" 2>&1
	st=$?
	grep -E '^(Total tests|Result):' "$DIR/regrtest.out"
	return $st
}
