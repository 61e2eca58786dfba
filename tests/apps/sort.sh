# GNU sort --parallel: the threads of its merge tree hand sorted runs up through a
# priority queue guarded by pthread mutexes and condvars. Output: the checksums of a
# numeric sort and of a keyed sort of the same text.
APP_PKGS="coreutils"
APP_QUICK=1
app_prepare() {
	lines=$([ $QUICK = 1 ] && echo 150000 || echo 2000000)
	[ -s "$DIR/in.$lines" ] || gen_text "$DIR/in.$lines" $lines
	IN=$DIR/in.$lines
}
app_run() {
	echo "numeric: $(app sort --parallel=4 -S 64M -n "$IN" | sha)"
	echo "keyed: $(LC_ALL=C app sort --parallel=4 -S 64M -k2,2 -k1,1n "$IN" | sha)"
}
