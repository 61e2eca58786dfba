# xz -T0: liblzma's multithreaded encoder and decoder (a pool of workers fed and drained
# through pthread mutexes and condvars, one block each: 512 KiB blocks make many hand-offs).
# Output: the checksum of the .xz (deterministic for a given thread count and block
# size) and whether the round trip gives the input back.
APP_PKGS="xz-utils"
APP_QUICK=1
app_prepare() {
	lines=$([ $QUICK = 1 ] && echo 60000 || echo 600000)
	[ -s "$DIR/in.$lines" ] || gen_text "$DIR/in.$lines" $lines
	IN=$DIR/in.$lines
}
app_run() {
	app xz -T0 --block-size=512KiB -3 -c "$IN" >"$DIR/out.xz" || return 1
	echo "compressed: $(sha <"$DIR/out.xz")"
	app xz -T0 -d -c "$DIR/out.xz" | cmp -s - "$IN" && echo "round trip: identical"
}
