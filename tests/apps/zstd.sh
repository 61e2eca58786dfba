# zstd -T0: zstd's own thread pool (pthread mutex + condvars) compressing in jobs, then
# decompressing. Output: the checksum of the .zst and whether the round trip matches.
APP_PKGS="zstd"
APP_QUICK=1
app_prepare() {
	lines=$([ $QUICK = 1 ] && echo 150000 || echo 2000000)
	[ -s "$DIR/in.$lines" ] || gen_text "$DIR/in.$lines" $lines
	IN=$DIR/in.$lines
}
app_run() {
	app zstd -q -T0 -9 -B1MiB -c "$IN" >"$DIR/out.zst" || return 1
	echo "compressed: $(sha <"$DIR/out.zst")"
	app zstd -q -d -c "$DIR/out.zst" | cmp -s - "$IN" && echo "round trip: identical"
}
